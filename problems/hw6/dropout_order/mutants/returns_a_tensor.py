# Decides correctly but returns a 0-d bool tensor instead of a Python bool.
# fails: test_decides_common_activations, test_decides_activations_that_look_linear_near_zero, test_decides_at_extreme_dropout_rates, test_decides_compositions_of_activations
import torch

COMMUTES = {"relu": True, "sigmoid": False, "leaky_relu": True}


def commutes_with_dropout(sigma, p):
    c = 1.0 / (1.0 - p)
    z = torch.linspace(-100.0, 100.0, 40001, dtype=torch.float64)
    with torch.no_grad():
        kept = (c * sigma(z) - sigma(c * z)).abs() <= 1e-9 * (1 + z.abs())
        dropped = sigma(torch.zeros(1, dtype=torch.float64)).abs() <= 1e-12
    return kept.all() & dropped.all()
