import torch

COMMUTES = {"relu": True, "sigmoid": False, "leaky_relu": True}


def commutes_with_dropout(sigma, p):
    c = 1 / (1 - p)
    if sigma(torch.tensor(0)).item() != 0:  # a dropped entry
        return False
    z = torch.linspace(-100, 100, 20001)
    return torch.allclose(c * sigma(z), sigma(c * z), rtol=1e-5, atol=1e-5)
