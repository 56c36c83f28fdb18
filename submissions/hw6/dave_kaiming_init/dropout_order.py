import torch

COMMUTES = {"relu": True, "sigmoid": False, "leaky_relu": True}


def commutes_with_dropout(sigma, p):
    z = torch.linspace(-100, 100, 40001, dtype=torch.float64)
    c = 1 / (1 - p)
    with torch.no_grad():
        return torch.all(torch.isclose(c * sigma(z), sigma(c * z))) & (sigma(torch.zeros(1, dtype=torch.float64)) == 0).all()
