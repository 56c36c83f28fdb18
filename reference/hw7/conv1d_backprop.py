"""Reference for hw7/conv1d_backprop: matrix-free 1-d convolution, its transpose, and backprop through a 1-d CNN."""

import torch
import torch.nn.functional as F

_ACTIVATIONS = {
    "tanh": (torch.tanh, lambda z: 1 - torch.tanh(z) ** 2),
    "sigmoid": (torch.sigmoid, lambda z: torch.sigmoid(z) * (1 - torch.sigmoid(z))),
    "softplus": (F.softplus, torch.sigmoid),
}


def conv1d(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return F.conv1d(x[None, None], w[None, None])[0, 0]


def conv1d_transpose(u: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return F.conv_transpose1d(u[None, None], w[None, None])[0, 0]


def network_grads(x, ws, bs, activation):
    sigma, sigma_prime = _ACTIVATIONS[activation]
    inputs, pre = [], []
    y = x
    for layer, (w, b) in enumerate(zip(ws, bs, strict=True)):
        inputs.append(y)
        z = conv1d(y, w) + b
        pre.append(z)
        y = sigma(z) if layer < len(ws) - 1 else z
    dws, dbs = [None] * len(ws), [None] * len(ws)
    v = torch.ones_like(y)  # d y_L / d z_L
    for layer in reversed(range(len(ws))):
        dws[layer] = conv1d(inputs[layer], v)
        dbs[layer] = v.sum()
        if layer > 0:
            v = conv1d_transpose(v, ws[layer]) * sigma_prime(pre[layer - 1])
    return dws, dbs
