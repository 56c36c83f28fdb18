import torch

COMMUTES = {"relu": True, "sigmoid": False, "leaky_relu": True}


def commutes_with_dropout(sigma, p, trials=3):
    """Simulate it: draw one dropout mask, apply it before and after sigma, and compare."""
    g = torch.Generator().manual_seed(0)
    z = torch.cat([torch.linspace(-100, 100, 40001, dtype=torch.float64),
                   torch.randn(20000, generator=g, dtype=torch.float64) * 10])
    for _ in range(trials):
        mask = (torch.rand(z.shape, generator=g, dtype=torch.float64) >= p).double() / (1 - p)
        with torch.no_grad():
            after = mask * sigma(z)
            before = sigma(mask * z)
        if not torch.allclose(after, before, rtol=1e-6, atol=1e-9):
            return False
    return True
