import torch
import torch.nn.functional as F


def act(name, z):
    return {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "softplus": F.softplus}[name](z)


def act_prime(name, z):
    if name == "tanh":
        return 1 - torch.tanh(z) ** 2
    if name == "sigmoid":
        return torch.sigmoid(z) * (1 - torch.sigmoid(z))
    return torch.sigmoid(z)


def grads(A_list, b_list, x, activation):
    L = len(A_list)
    ys, zs = [x], []
    for l in range(L - 1):
        z = A_list[l] @ ys[-1] + b_list[l]
        zs.append(z)
        y = act(activation, z)
        if l > 0:
            y = y + ys[-1]
        ys.append(y)
    dA = [None] * L
    db = [None] * L
    dA[L - 1] = ys[-1].unsqueeze(0)
    db[L - 1] = torch.ones_like(b_list[L - 1])
    g = A_list[L - 1][0]
    for l in range(L - 2, -1, -1):
        delta = g * act_prime(activation, zs[l])
        dA[l] = torch.outer(delta, ys[l])
        db[l] = delta
        if l > 0:
            g = A_list[l].T @ delta + g
    return dA, db
