"""Correct, another way: form II by torch.optim.SGD itself on a copy, and form I through the
equivalence of the two forms (the heavy-ball iterates are the velocity form's)."""

import torch


def momentum_sgd(theta0, grads, lr, beta):
    p = torch.nn.Parameter(theta0.detach().clone())
    opt = torch.optim.SGD([p], lr=lr, momentum=beta)
    out = []
    for g in grads:
        p.grad = g.detach().clone()
        opt.step()
        out.append(p.detach().clone())
    return out


def heavy_ball(theta0, grads, lr, beta):
    return momentum_sgd(theta0, grads, lr, beta)
