import torch

COMMUTES = {"relu": True, "sigmoid": False, "leaky_relu": True}


def commutes_with_dropout(sigma, p):
    c = 1 / (1 - p)
    z = torch.linspace(-100, 100, 100001, dtype=torch.float64)
    with torch.no_grad():
        kept_same = torch.allclose(c * sigma(z), sigma(c * z), rtol=1e-7, atol=1e-10)
        dropped_same = torch.allclose(sigma(torch.zeros(1, dtype=torch.float64)), torch.zeros(1, dtype=torch.float64),
                                      atol=1e-10)
    return bool(kept_same and dropped_same)
