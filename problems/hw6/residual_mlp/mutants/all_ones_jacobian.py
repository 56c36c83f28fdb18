# The answer in seed 003: the Jacobian of a residual layer is taken as diag(sigma') A + (all-ones matrix) instead of diag(sigma') A + I.
# fails: test_bias_gradients_through_the_skip_connections, test_weight_gradients_through_the_skip_connections, test_arguments_are_left_unchanged
import torch


def _activation(name):
    if name == "tanh":
        return torch.tanh, lambda z: 1 - torch.tanh(z) ** 2
    if name == "sigmoid":
        return torch.sigmoid, lambda z: torch.sigmoid(z) * (1 - torch.sigmoid(z))
    return torch.nn.functional.softplus, torch.sigmoid


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
    dA_list, db_list = [None] * L, [None] * L
    dA_list[-1] = y.reshape(1, -1).clone()
    db_list[-1] = torch.ones_like(b_list[-1])
    g = A_list[-1].reshape(-1)
    for l in range(L - 2, -1, -1):
        delta = g * sigma_prime(pre[l])
        dA_list[l] = torch.outer(delta, inputs[l])
        db_list[l] = delta
        g = A_list[l].T @ delta + (torch.ones_like(g) * g.sum() if l > 0 else 0)
    return dA_list, db_list
