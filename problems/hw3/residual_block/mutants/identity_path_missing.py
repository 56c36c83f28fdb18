# Forgets the skip connection in the backward pass: dx has only the dense path's gradient.
# fails: test_backward_dx, test_arguments_are_left_unchanged
import torch


def forward(x, H, v):
    return x + torch.relu(x @ H.T + v)


def backward(x, H, v, dy):
    g = dy * (x @ H.T + v > 0)
    return g @ H, g.T @ x, g.sum(dim=0)


def sgd_step(x, H, v, dy, lr):
    _, dH, dv = backward(x, H, v, dy)
    return H - lr * dH, v - lr * dv
