"""Correct, another way: a Python loop over the shorter of filter and output (slices and dot products).

A valid correlation of x (length n) with w (length f) has m = n - f + 1 outputs; it is the sum over k
of w[k] * x[k:k + m] (f slices) or the dot products x[i:i + f] @ w (m of them). Looping over the
shorter side keeps both the 5-tap filter on two million entries and the two-million-tap filter fast.
"""

import torch


def conv1d(x, w):
    n, f = x.shape[0], w.shape[0]
    m = n - f + 1
    if f <= m:
        out = torch.zeros(m, dtype=torch.promote_types(x.dtype, w.dtype))
        for k in range(f):
            out += w[k] * x[k:k + m]
        return out
    return torch.stack([x[i:i + f] @ w for i in range(m)])


def conv1d_transpose(u, w):
    m, f = u.shape[0], w.shape[0]
    out = torch.zeros(m + f - 1, dtype=torch.promote_types(u.dtype, w.dtype))
    if f <= m:
        for k in range(f):
            out[k:k + m] += w[k] * u
    else:
        for i in range(m):
            out[i:i + f] += u[i] * w
    return out


def network_grads(x, ws, bs, activation):
    sigma = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "softplus": torch.nn.functional.softplus}[activation]

    def sigma_prime(z):
        if activation == "tanh":
            return 1 - torch.tanh(z) ** 2
        s = torch.sigmoid(z)
        return s * (1 - s) if activation == "sigmoid" else s

    inputs, pre, y = [], [], x
    for layer, (w, b) in enumerate(zip(ws, bs)):
        inputs.append(y)
        z = conv1d(y, w) + b
        pre.append(z)
        y = sigma(z) if layer < len(ws) - 1 else z
    dws, dbs = [None] * len(ws), [None] * len(ws)
    v = torch.ones_like(y)
    for layer in reversed(range(len(ws))):
        dws[layer] = conv1d(inputs[layer], v)
        dbs[layer] = v.sum()
        if layer > 0:
            v = conv1d_transpose(v, ws[layer]) * sigma_prime(pre[layer - 1])
    return dws, dbs
