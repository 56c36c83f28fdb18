import torch


def cross_entropy(logits, target):
    return torch.zeros(logits.shape[0], dtype=logits.dtype)


def cross_entropy_grad(logits, target):
    return torch.zeros_like(logits)
