"""Correct, another way: the definition itself. Every probe value appears twice, once with a dropped
mask entry (0) and once with a kept one (1/(1-p)); both orders are applied with that same mask in
float64 and compared with torch.isclose."""

import torch

COMMUTES = {"relu": True, "sigmoid": False, "leaky_relu": True}


def commutes_with_dropout(sigma, p):
    keep = 1.0 / (1.0 - p)
    z = torch.arange(-100.0, 100.0 + 1e-9, 0.004, dtype=torch.float64)
    z = torch.cat([z, torch.tensor([0.0, 1e-6, -1e-6], dtype=torch.float64)])
    values = torch.cat([z, z])
    mask = torch.cat([torch.zeros_like(z), torch.full_like(z, keep)])
    with torch.no_grad():
        after = mask * sigma(values)   # dropout(sigma(z))
        before = sigma(mask * values)  # sigma(dropout(z))
    return bool(torch.isclose(after, before, rtol=1e-8, atol=1e-10).all())
