# Backpropagates through the activations as if they were the identity.
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
            v = conv1d_transpose(v, ws[layer])
    return dws, dbs
