import torch

COMMUTES = {"relu": True, "sigmoid": False, "leaky_relu": False}


def commutes_with_dropout(sigma, p):
    c = 1 / (1 - p)
    z = torch.cat([torch.linspace(-100, 100, 50001), torch.linspace(-1, 1, 5001)]).double()
    with torch.no_grad():
        same = torch.allclose(c * sigma(z), sigma(c * z), rtol=1e-8, atol=1e-10)
    return same and float(sigma(torch.zeros(1).double())) == 0.0
