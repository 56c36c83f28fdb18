"""Reference for hw6/residual_mlp: gradients of a residual MLP's scalar output, by hand."""

import torch


def _activation(name):
    if name == "tanh":
        return torch.tanh, lambda z: 1 - torch.tanh(z) ** 2
    if name == "sigmoid":
        return torch.sigmoid, lambda z: torch.sigmoid(z) * (1 - torch.sigmoid(z))
    if name == "softplus":
        return torch.nn.functional.softplus, torch.sigmoid
    raise ValueError(f"unknown activation {name!r}")


def grads(A_list, b_list, x, activation):
    sigma, sigma_prime = _activation(activation)
    L = len(A_list)
    inputs, pre = [], []
    y = x
    for l in range(L - 1):
        inputs.append(y)
        z = A_list[l] @ y + b_list[l]
        pre.append(z)
        y = sigma(z) + (y if l > 0 else 0)
    # Output layer: y_L = A_L y_{L-1} + b_L, a vector of length 1.
    dA_list, db_list = [None] * L, [None] * L
    dA_list[-1] = y.reshape(1, -1).clone()
    db_list[-1] = torch.ones_like(b_list[-1])
    g = A_list[-1].reshape(-1)  # d y_L / d y_{L-1}
    for l in range(L - 2, -1, -1):
        delta = g * sigma_prime(pre[l])
        dA_list[l] = torch.outer(delta, inputs[l])
        db_list[l] = delta
        g = A_list[l].T @ delta + (g if l > 0 else 0)  # the skip connection carries g through unchanged
    return dA_list, db_list
