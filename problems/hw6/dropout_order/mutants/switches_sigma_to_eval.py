# Decides right, but first switches the activation it was given to eval mode (sigma.eval() acts in
# place): the caller's module changes.
# fails: test_decides_at_extreme_dropout_rates
import torch

COMMUTES = {"relu": True, "sigmoid": False, "leaky_relu": True}


def commutes_with_dropout(sigma, p):
    sigma.eval()
    scale = 1.0 / (1.0 - p)
    z = torch.cat([
        torch.linspace(-100.0, 100.0, 40_001, dtype=torch.float64),
        torch.logspace(-8, 2, 2_001, dtype=torch.float64),
        -torch.logspace(-8, 2, 2_001, dtype=torch.float64),
    ])
    with torch.no_grad():
        after = scale * sigma(z)
        before = sigma(scale * z)
        zero = sigma(torch.zeros(1, dtype=torch.float64))
    return bool(torch.allclose(after, before, rtol=1e-9, atol=1e-12) and zero.abs().max() <= 1e-12)
