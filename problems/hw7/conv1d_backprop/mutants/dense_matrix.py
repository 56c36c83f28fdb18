# Forms the matrix A_w explicitly: right on small inputs, out of memory on long ones.
# fails: test_long_input_conv1d_and_transpose, test_long_input_network_grads
import torch
import torch.nn.functional as F

_ACTIVATIONS = {
    "tanh": (torch.tanh, lambda z: 1 - torch.tanh(z) ** 2),
    "sigmoid": (torch.sigmoid, lambda z: torch.sigmoid(z) * (1 - torch.sigmoid(z))),
    "softplus": (F.softplus, torch.sigmoid),
}


def conv_matrix(w, n):
    """The (n - f + 1) x n matrix A_w, built entry by entry."""
    f = len(w)
    A = torch.zeros(n - f + 1, n, dtype=w.dtype)
    rows = torch.arange(n - f + 1)
    for j in range(f):
        A[rows, rows + j] = w[j]
    return A


def conv1d(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return conv_matrix(w, len(x)) @ x


def conv1d_transpose(u: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return conv_matrix(w, len(u) + len(w) - 1).T @ u


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
