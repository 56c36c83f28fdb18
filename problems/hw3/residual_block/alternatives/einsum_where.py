"""Correct, another way: einsum for every product, and the mask by torch.where on the forward's ReLU."""

import torch


def forward(x, H, v):
    return x + torch.relu(torch.einsum("bj,ij->bi", x, H) + v)


def backward(x, H, v, dy):
    a = torch.relu(torch.einsum("bj,ij->bi", x, H) + v)
    g = torch.where(a > 0, dy, torch.zeros_like(dy))  # relu(z) > 0 exactly where z > 0
    return dy + torch.einsum("bi,ij->bj", g, H), torch.einsum("bi,bj->ij", g, x), torch.einsum("bi->i", g)


def sgd_step(x, H, v, dy, lr):
    _, dH, dv = backward(x, H, v, dy)
    return H - lr * dH, v - lr * dv
