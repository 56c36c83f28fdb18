# Right gradients, but it walks the layers backwards by reversing A_list and b_list in place (and
# never reverses them back): the caller's lists come back in the wrong order.
# fails: test_arguments_are_left_unchanged
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
    A_list.reverse()
    b_list.reverse()
    dA, db = [y.reshape(1, -1).clone()], [torch.ones_like(b_list[0])]
    g = A_list[0].reshape(-1)
    for k, l in enumerate(range(L - 2, -1, -1), start=1):
        delta = g * sigma_prime(pre[l])
        dA.append(torch.outer(delta, inputs[l]))
        db.append(delta)
        g = A_list[k].T @ delta + (g if l > 0 else 0)
    return dA[::-1], db[::-1]
