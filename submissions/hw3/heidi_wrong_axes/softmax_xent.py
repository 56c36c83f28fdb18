import torch
import torch.nn.functional as F


def cross_entropy(logits, target):
    return F.cross_entropy(logits, target, reduction="none")


def cross_entropy_grad(logits, target):
    p = F.softmax(logits, dim=0)
    return p - F.one_hot(target, num_classes=logits.shape[1]).to(p.dtype)
