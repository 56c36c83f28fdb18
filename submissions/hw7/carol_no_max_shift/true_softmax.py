import torch


def nu(x, beta):
    return torch.log(torch.exp(beta * x).sum(dim=-1)) / beta


def grad_nu(x, beta):
    e = torch.exp(beta * x)
    return e / e.sum(dim=-1, keepdim=True)
