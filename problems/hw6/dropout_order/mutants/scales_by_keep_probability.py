# Scales the kept entries by the keep probability 1 - p (the test-time rescaling of the original
# dropout paper) instead of by c = 1/(1-p), so it checks sigma(s z) = s sigma(z) at a scale s < 1 and
# only ever evaluates sigma inside [-100, 100]: a Hardtanh that clips beyond 100 looks like the identity.
# fails: test_decides_activations_that_look_linear_near_zero, test_decides_compositions_of_activations
import torch

COMMUTES = {"relu": True, "sigmoid": False, "leaky_relu": True}


def commutes_with_dropout(sigma, p):
    keep = 1.0 - p
    z = torch.arange(-20_000, 20_001, dtype=torch.float64) / 200.0
    with torch.no_grad():
        if float(sigma(torch.zeros(1, dtype=torch.float64)).abs()) > 1e-12:
            return False
        difference = (keep * sigma(z) - sigma(keep * z)).abs()
    return bool((difference <= 1e-12 + 1e-9 * (keep * z).abs()).all())
