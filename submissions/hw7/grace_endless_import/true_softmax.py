import time

# "Warm up" before defining anything: this never ends.
while True:
    time.sleep(0.01)

import torch


def nu(x, beta):
    z = beta * x
    m = z.max(dim=-1, keepdim=True).values
    return (m.squeeze(-1) + torch.log(torch.exp(z - m).sum(dim=-1))) / beta


def grad_nu(x, beta):
    z = beta * x
    e = torch.exp(z - z.max(dim=-1, keepdim=True).values)
    return e / e.sum(dim=-1, keepdim=True)
