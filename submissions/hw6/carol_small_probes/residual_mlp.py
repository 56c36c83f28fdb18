import torch


def grads(A_list, b_list, x, activation):
    f = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "softplus": torch.nn.functional.softplus}[activation]
    L = len(A_list)
    ys, zs = [x], []
    for l in range(L - 1):
        zs.append(A_list[l] @ ys[-1] + b_list[l])
        ys.append(f(zs[-1]) + (ys[-1] if l > 0 else 0))
    dA, db = [None] * L, [None] * L
    dA[-1] = ys[-1][None, :]
    db[-1] = torch.ones_like(b_list[-1])
    g = A_list[-1][0]
    for l in range(L - 2, -1, -1):
        if activation == "tanh":
            d = 1 - torch.tanh(zs[l]) ** 2
        elif activation == "sigmoid":
            d = torch.sigmoid(zs[l]) * (1 - torch.sigmoid(zs[l]))
        else:
            d = torch.sigmoid(zs[l])
        delta = g * d
        dA[l] = torch.outer(delta, ys[l])
        db[l] = delta
        g = A_list[l].T @ delta
    return dA, db
