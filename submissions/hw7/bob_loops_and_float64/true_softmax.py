import math

import torch


def nu(x, beta):
    flat = x.reshape(-1, x.shape[-1]).double()
    out = torch.empty(flat.shape[0], dtype=torch.float64)
    for i, row in enumerate(flat):
        values = [beta * float(v) for v in row]
        top = max(values)
        out[i] = (top + math.log(sum(math.exp(v - top) for v in values))) / beta
    return out.reshape(x.shape[:-1]).to(x.dtype)


def grad_nu(x, beta):
    z = (beta * x.double())
    z = z - z.amax(dim=-1, keepdim=True)
    w = z.exp()
    return torch.einsum("...i,...->...i", w, 1.0 / w.sum(-1)).to(x.dtype)
