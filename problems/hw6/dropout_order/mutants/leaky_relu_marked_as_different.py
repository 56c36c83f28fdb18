# Says in the table that LeakyReLU does not commute with dropout (it does: it is positively homogeneous).
# fails: test_table_for_relu_sigmoid_and_leaky_relu
import torch

COMMUTES = {"relu": True, "sigmoid": False, "leaky_relu": False}


def commutes_with_dropout(sigma, p):
    c = 1.0 / (1.0 - p)
    z = torch.linspace(-100.0, 100.0, 40001, dtype=torch.float64)
    with torch.no_grad():
        kept = torch.allclose(c * sigma(z), sigma(c * z), rtol=1e-9, atol=1e-12)
        dropped = float(sigma(torch.zeros(1, dtype=torch.float64)).abs()) <= 1e-12
    return bool(kept and dropped)
