import torch


def sigma(z):
    return torch.sigmoid(z)


def sigma_prime(z):
    s = torch.sigmoid(z)
    return s * (1 - s)


def backprop(A_list, b_list, x, y):
    L = len(A_list)
    ys = [x]
    zs = []
    for l in range(L):
        z = A_list[l] @ ys[-1] + b_list[l]
        zs.append(z)
        ys.append(sigma(z) if l < L - 1 else z)
    dA_list = [None] * L
    db_list = [None] * L
    dy = torch.ones_like(ys[-1])
    for l in reversed(range(L)):
        if l < L - 1:
            db = dy * sigma_prime(zs[l])
        else:
            db = dy
        dA_list[l] = db @ ys[l].T
        db_list[l] = db
        dy = A_list[l].T @ db
    return dA_list, db_list
