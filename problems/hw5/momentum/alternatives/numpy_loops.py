"""Correct, another way: numpy arrays and an explicit loop, form I keeping the last two iterates and
form II keeping a velocity; tensors rebuilt at the end."""

import numpy as np
import torch


def heavy_ball(theta0, grads, lr, beta):
    before = now = theta0.detach().numpy().copy()
    out = []
    for g in grads:
        step = now - lr * g.detach().numpy() + beta * (now - before)
        before, now = now, step
        out.append(torch.from_numpy(np.array(now, dtype=now.dtype)))
    return out


def momentum_sgd(theta0, grads, lr, beta):
    theta = theta0.detach().numpy().copy()
    v = np.zeros_like(theta)
    out = []
    for g in grads:
        v = g.detach().numpy() + beta * v
        theta = theta - lr * v
        out.append(torch.from_numpy(np.array(theta, dtype=theta.dtype)))
    return out
