"""Correct, another way: the statement's Jacobians as explicit matrices, diag(sigma'(z_l)) A_l + I,
multiplied from the output down into the row vector dy_L/dy_l; every parameter's gradient read
from it."""

import torch


def _slope(name, z):
    if name == "tanh":
        return 1 - torch.tanh(z) ** 2
    if name == "sigmoid":
        return torch.sigmoid(z) * torch.sigmoid(-z)
    return torch.sigmoid(z)  # softplus' = sigmoid


def _apply(name, z):
    return {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "softplus": torch.nn.functional.softplus}[name](z)


def grads(A_list, b_list, x, activation):
    L = len(A_list)
    ys, zs = [x], []
    for l in range(L - 1):
        z = A_list[l] @ ys[-1] + b_list[l]
        zs.append(z)
        ys.append(_apply(activation, z) + (ys[-1] if l > 0 else 0))
    row = A_list[-1].clone()                      # dy_L/dy_{L-1}, shape [1, m]
    dA, db = [None] * L, [None] * L
    dA[-1], db[-1] = ys[-1][None, :].clone(), torch.ones_like(b_list[-1])
    for l in range(L - 2, -1, -1):
        D = torch.diag(_slope(activation, zs[l]))
        dz = row @ D                              # dy_L/dz_l, [1, m]
        db[l] = dz[0].clone()
        dA[l] = dz.T @ ys[l][None, :]
        J = D @ A_list[l]                         # dy_{l+1}/dy_l for the layer without a skip
        if l > 0:
            J = J + torch.eye(J.shape[0], dtype=J.dtype)
        row = row @ J
    return dA, db
