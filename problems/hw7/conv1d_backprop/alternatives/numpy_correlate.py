"""Correct, another way: numpy's correlate and convolve (mode "valid" and "full"), in float64 inside."""

import numpy as np
import torch


def conv1d(x, w):
    return torch.from_numpy(np.correlate(x.double().numpy(), w.double().numpy(), mode="valid")).to(x.dtype)


def conv1d_transpose(u, w):
    return torch.from_numpy(np.convolve(u.double().numpy(), w.double().numpy(), mode="full")).to(u.dtype)


def network_grads(x, ws, bs, activation):
    xs = x.double().numpy()
    sig = {
        "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
        "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
        "softplus": (lambda z: np.logaddexp(0, z), lambda z: 1 / (1 + np.exp(-z))),
    }[activation]
    wn = [w.double().numpy() for w in ws]
    bn = [float(b) for b in bs]
    inputs, pre, y = [], [], xs
    for layer, (w, b) in enumerate(zip(wn, bn)):
        inputs.append(y)
        z = np.correlate(y, w, mode="valid") + b
        pre.append(z)
        y = sig[0](z) if layer < len(wn) - 1 else z
    dws, dbs = [None] * len(wn), [None] * len(wn)
    v = np.ones_like(y)
    for layer in reversed(range(len(wn))):
        dws[layer] = torch.from_numpy(np.correlate(inputs[layer], v, mode="valid")).to(x.dtype)
        dbs[layer] = torch.tensor(v.sum(), dtype=x.dtype)
        if layer > 0:
            v = np.convolve(v, wn[layer], mode="full") * sig[1](pre[layer - 1])
    return dws, dbs
