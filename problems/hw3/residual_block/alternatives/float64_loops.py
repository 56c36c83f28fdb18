"""Correct, another way: explicit loops over the batch in float64, results cast back to the input's dtype."""

import torch


def forward(x, H, v):
    xd, Hd, vd = x.double(), H.double(), v.double()
    rows = [xd[b] + torch.clamp(Hd @ xd[b] + vd, min=0) for b in range(x.shape[0])]
    return torch.stack(rows).to(x.dtype)


def backward(x, H, v, dy):
    xd, Hd, vd, dyd = x.double(), H.double(), v.double(), dy.double()
    dx, dH, dv = torch.zeros_like(xd), torch.zeros_like(Hd), torch.zeros_like(vd)
    for b in range(x.shape[0]):
        g = dyd[b] * ((Hd @ xd[b] + vd) > 0).double()
        dx[b] = dyd[b] + Hd.T @ g
        dH += torch.outer(g, xd[b])
        dv += g
    return dx.to(x.dtype), dH.to(x.dtype), dv.to(x.dtype)


def sgd_step(x, H, v, dy, lr):
    _, dH, dv = backward(x, H, v, dy)
    return H - lr * dH, v - lr * dv
