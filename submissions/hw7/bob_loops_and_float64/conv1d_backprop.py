# Correlations as loops over whichever is shorter (filter taps or output positions), in float64.
import torch


def _corr(x, w):
    x64, w64 = x.double(), w.double()
    f = len(w64)
    m = len(x64) - f + 1
    out = torch.zeros(m, dtype=torch.float64)
    if f <= m:
        for j in range(f):
            out += w64[j] * x64[j:j + m]
    else:
        for i in range(m):
            out[i] = torch.dot(w64, x64[i:i + f])
    return out


def _corr_t(u, w):
    u64, w64 = u.double(), w.double()
    m, f = len(u64), len(w64)
    out = torch.zeros(m + f - 1, dtype=torch.float64)
    if f <= m:
        for j in range(f):
            out[j:j + m] += w64[j] * u64
    else:
        for i in range(m):
            out[i:i + f] += u64[i] * w64
    return out


def conv1d(x, w):
    return _corr(x, w).to(x.dtype)


def conv1d_transpose(u, w):
    return _corr_t(u, w).to(u.dtype)


def _sigma(name, z):
    if name == "tanh":
        return torch.tanh(z)
    if name == "sigmoid":
        return 1 / (1 + torch.exp(-z))
    return torch.log1p(torch.exp(-z.abs())) + z.clamp(min=0)


def _sigma_prime(name, z):
    if name == "tanh":
        return 1 - torch.tanh(z) ** 2
    s = 1 / (1 + torch.exp(-z))
    if name == "sigmoid":
        return s * (1 - s)
    return s


def network_grads(x, ws, bs, activation):
    y = x.double()
    inputs, pre = [], []
    for i in range(len(ws)):
        inputs.append(y)
        z = _corr(y, ws[i]) + float(bs[i])
        pre.append(z)
        y = _sigma(activation, z) if i + 1 < len(ws) else z
    dws = [None] * len(ws)
    dbs = [None] * len(ws)
    v = torch.ones(1, dtype=torch.float64)
    for i in reversed(range(len(ws))):
        dws[i] = _corr(inputs[i], v).to(x.dtype)
        dbs[i] = v.sum().to(x.dtype)
        if i > 0:
            v = _corr_t(v, ws[i]) * _sigma_prime(activation, pre[i - 1])
    return dws, dbs
