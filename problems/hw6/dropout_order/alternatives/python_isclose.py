"""Correct, another way: evaluate once, then walk the values in Python and stop at the first input
where c * sigma(z) and sigma(c * z) are not math.isclose (or where sigma(0) is not 0)."""

import math

import torch

COMMUTES = {"relu": True, "sigmoid": False, "leaky_relu": True}


def commutes_with_dropout(sigma, p):
    c = 1.0 / (1.0 - p)
    points = [k / 100.0 for k in range(-10_000, 10_001)] + [10.0 ** -e for e in range(1, 9)]
    points += [-v for v in points[-8:]]
    with torch.no_grad():
        if abs(float(sigma(torch.zeros(1, dtype=torch.float64))[0])) > 1e-12:
            return False
        z = torch.tensor(points, dtype=torch.float64)
        kept_after = sigma(z).tolist()
        kept_before = sigma(c * z).tolist()
    for after, before in zip(kept_after, kept_before):
        if not math.isclose(c * after, before, rel_tol=1e-9, abs_tol=1e-12):
            return False
    return True
