import torch


def grads(A_list, b_list, x, activation):
    sig = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "softplus": torch.nn.functional.softplus}[activation]

    def dsig(z):
        if activation == "tanh":
            return 1 - torch.tanh(z) ** 2
        if activation == "sigmoid":
            return torch.sigmoid(z) * (1 - torch.sigmoid(z))
        return torch.sigmoid(z)

    L = len(A_list)
    y, pre = [x], []
    for l in range(L - 1):
        pre.append(A_list[l] @ y[-1] + b_list[l])
        y.append(sig(pre[-1]) + (y[-1] if l else 0))
    dA, db = [None] * L, [None] * L
    dA[-1] = y[-1].reshape(1, -1)
    db[-1] = torch.ones_like(b_list[-1])
    g = A_list[-1].flatten()
    for l in range(L - 2, -1, -1):
        delta = g * dsig(pre[l - 1] if l else pre[0])
        dA[l] = torch.outer(delta, y[l])
        db[l] = delta
        g = A_list[l].T @ delta + g
    return dA, db
