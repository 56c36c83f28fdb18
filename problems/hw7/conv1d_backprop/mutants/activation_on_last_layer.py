# Applies the activation on the last layer too, in the forward and the backward pass.
# fails: test_network_grads_filters, test_network_grads_biases, test_long_input_network_grads
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
    for w, b in zip(ws, bs, strict=True):
        inputs.append(y)
        z = conv1d(y, w) + b
        pre.append(z)
        y = sigma(z)
    dws, dbs = [None] * len(ws), [None] * len(ws)
    v = sigma_prime(pre[-1])
    for layer in reversed(range(len(ws))):
        dws[layer] = conv1d(inputs[layer], v)
        dbs[layer] = v.sum()
        if layer > 0:
            v = conv1d_transpose(v, ws[layer]) * sigma_prime(pre[layer - 1])
    return dws, dbs
