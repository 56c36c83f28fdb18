import torch


def nu(x, beta):
    z = beta * x
    m = z.max(dim=-1, keepdim=True).values
    return (m.squeeze(-1) + torch.log(torch.exp(z - m).sum(dim=-1))) / beta


