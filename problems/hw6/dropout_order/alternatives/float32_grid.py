"""Correct, another way: a float32 probe (spacing 0.01 over [-100, 100]) with a tolerance sized for
float32 rounding, and the dropped entries checked through sigma(0) alone."""

import numpy as np
import torch

COMMUTES = {"relu": True, "sigmoid": False, "leaky_relu": True}


def commutes_with_dropout(sigma, p):
    c = np.float32(1.0 / (1.0 - p))
    z = torch.from_numpy(np.linspace(-100.0, 100.0, 20_001, dtype=np.float32))
    with torch.no_grad():
        at_zero = float(sigma(torch.zeros(3, dtype=torch.float32)).abs().max())
        a = (float(c) * sigma(z)).numpy().astype(np.float64)
        b = sigma(z * float(c)).numpy().astype(np.float64)
    if at_zero > 1e-6:
        return False
    tolerance = 1e-5 * np.maximum(np.abs(a), np.abs(b)) + 1e-6
    return bool(np.all(np.abs(a - b) <= tolerance))
