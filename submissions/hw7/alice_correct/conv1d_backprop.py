import torch
import torch.nn.functional as F


def conv1d(x, w):
    return F.conv1d(x.view(1, 1, -1), w.view(1, 1, -1)).view(-1)


def conv1d_transpose(u, w):
    return F.conv_transpose1d(u.view(1, 1, -1), w.view(1, 1, -1)).view(-1)


def _activation(name):
    if name == "tanh":
        return torch.tanh, lambda z: 1 - torch.tanh(z) ** 2
    if name == "sigmoid":
        return torch.sigmoid, lambda z: torch.sigmoid(z) * (1 - torch.sigmoid(z))
    if name == "softplus":
        return F.softplus, torch.sigmoid
    raise ValueError(name)


def network_grads(x, ws, bs, activation):
    sigma, dsigma = _activation(activation)
    ys = [x]
    zs = []
    for l, (w, b) in enumerate(zip(ws, bs)):
        z = conv1d(ys[-1], w) + b
        zs.append(z)
        ys.append(sigma(z) if l < len(ws) - 1 else z)
    L = len(ws)
    dws = [None] * L
    dbs = [None] * L
    v = torch.ones(1, dtype=x.dtype)
    for l in range(L - 1, -1, -1):
        dws[l] = conv1d(ys[l], v)
        dbs[l] = v.sum()
        if l > 0:
            v = conv1d_transpose(v, ws[l]) * dsigma(zs[l - 1])
    return dws, dbs
