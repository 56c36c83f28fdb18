"""Correct, another way: the recursion unrolled in float64, theta^k = theta^0 - lr sum_{j<k} sum_{i<=j}
beta^(j-i) g^i, as one lower-triangular matrix of powers of beta applied with einsum."""

import torch


def _unrolled(theta0, grads, lr, beta):
    k = len(grads)
    G = torch.stack([g.double() for g in grads])                              # [K, ...]
    j = torch.arange(k, dtype=torch.float64)
    powers = torch.where(j[:, None] >= j[None, :],
                         torch.tensor(float(beta), dtype=torch.float64) ** (j[:, None] - j[None, :]).clamp(min=0),
                         torch.zeros((), dtype=torch.float64))                # velocity v^{j+1} = sum_i P[j, i] g^i
    V = torch.einsum("ji,i...->j...", powers, G)
    thetas = theta0.double() - lr * torch.cumsum(V, dim=0)
    return [t.to(theta0.dtype) for t in thetas]


def heavy_ball(theta0, grads, lr, beta):
    return _unrolled(theta0, grads, lr, beta)


def momentum_sgd(theta0, grads, lr, beta):
    return _unrolled(theta0, grads, lr, beta)
