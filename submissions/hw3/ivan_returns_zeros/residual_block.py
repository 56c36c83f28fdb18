import torch


def forward(x, H, v):
    return torch.zeros_like(x)


def backward(x, H, v, dy):
    return torch.zeros_like(x), torch.zeros_like(H), torch.zeros_like(v)


def sgd_step(x, H, v, dy, lr):
    return torch.zeros_like(H), torch.zeros_like(v)
