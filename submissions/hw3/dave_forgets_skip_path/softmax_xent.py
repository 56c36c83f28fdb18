import torch


def cross_entropy(logits, target):
    m = logits.max(dim=1, keepdim=True).values
    shifted = logits - m
    log_z = torch.log(torch.exp(shifted).sum(dim=1))
    return log_z - shifted[torch.arange(len(target)), target]


def cross_entropy_grad(logits, target):
    m = logits.max(dim=1, keepdim=True).values
    e = torch.exp(logits - m)
    p = e / e.sum(dim=1, keepdim=True)
    p[torch.arange(len(target)), target] -= 1.0
    return p
