import torch

COMMUTES = {"relu": True, "sigmoid": False, "leaky_relu": True}


def commutes_with_dropout(sigma, p):
    c = 1.0 / (1.0 - p)
    z = torch.linspace(-1, 1, 201)
    with torch.no_grad():
        return torch.allclose(c * sigma(z), sigma(c * z), atol=1e-6) and abs(sigma(torch.zeros(1)).item()) < 1e-6
