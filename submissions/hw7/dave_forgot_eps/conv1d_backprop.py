import torch
import torch.nn.functional as F


def conv1d(x, w):
    return F.conv1d(x[None, None], w[None, None])[0, 0]


def conv1d_transpose(u, w):
    return F.conv_transpose1d(u[None, None], w[None, None])[0, 0]


def network_grads(x, ws, bs, activation):
    act = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "softplus": F.softplus}[activation]

    def act_prime(z):
        if activation == "tanh":
            return 1 - torch.tanh(z) ** 2
        s = torch.sigmoid(z)
        return s * (1 - s) if activation == "sigmoid" else s

    ys, zs = [x], []
    for i, (w, b) in enumerate(zip(ws, bs)):
        zs.append(conv1d(ys[-1], w) + b)
        ys.append(act(zs[-1]) if i < len(ws) - 1 else zs[-1])
    v = torch.ones_like(zs[-1])
    dws, dbs = [], []
    for i in range(len(ws) - 1, -1, -1):
        dws.insert(0, conv1d(ys[i], v))
        dbs.insert(0, v.sum())
        if i > 0:
            v = conv1d_transpose(v, ws[i]) * act_prime(zs[i - 1])
    return dws, dbs
