# Compares the two orders only for inputs in [-1, 1], where ReLU6, Hardtanh, ... still look linear.
# fails: test_decides_activations_that_look_linear_near_zero, test_decides_at_extreme_dropout_rates, test_decides_compositions_of_activations
import torch

COMMUTES = {"relu": True, "sigmoid": False, "leaky_relu": True}


def commutes_with_dropout(sigma, p):
    c = 1.0 / (1.0 - p)
    z = torch.linspace(-1.0, 1.0, 2001)
    with torch.no_grad():
        same_kept = torch.allclose(c * sigma(z), sigma(c * z), rtol=1e-5, atol=1e-6)
        same_dropped = abs(float(sigma(torch.zeros(1)))) < 1e-6
    return bool(same_kept and same_dropped)
