"""Reference for hw6/dropout_order: when does an activation commute with dropout?"""

import torch

# dropout(sigma(z)) == sigma(dropout(z)) with a shared mask iff sigma(0) = 0 and sigma(c z) = c sigma(z)
# for the kept entries' scale c = 1 / (1 - p): positive homogeneity at that scale.
COMMUTES = {"relu": True, "sigmoid": False, "leaky_relu": True}


def commutes_with_dropout(sigma, p):
    scale = 1.0 / (1.0 - p)
    # Where the two orders differ, the statement promises an interval at least 0.02 long inside
    # [-100, 100]: a grid of spacing 0.005 over that range has points in every such interval.
    z = torch.linspace(-100.0, 100.0, 40_001, dtype=torch.float64)
    with torch.no_grad():
        kept_after = scale * sigma(z)  # a kept entry of dropout(sigma(z))
        kept_before = sigma(scale * z)  # the same entry of sigma(dropout(z))
        zero = sigma(torch.zeros(1, dtype=torch.float64))  # a dropped entry: 0 against sigma(0)
    kept_agree = torch.allclose(kept_after, kept_before, rtol=1e-9, atol=1e-12)
    dropped_agree = bool(zero.abs().max() <= 1e-12)
    return bool(kept_agree and dropped_agree)
