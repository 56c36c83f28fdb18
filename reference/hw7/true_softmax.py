"""Reference for hw7/true_softmax: the log-sum-exp smooth maximum and its gradient."""

import torch


def nu(x: torch.Tensor, beta: float) -> torch.Tensor:
    return torch.logsumexp(beta * x, dim=-1) / beta


def grad_nu(x: torch.Tensor, beta: float) -> torch.Tensor:
    return torch.softmax(beta * x, dim=-1)
