# Returns one bias gradient per example instead of summing them over the batch.
# fails: test_backward_dv, test_sgd_step, test_arguments_are_left_unchanged
import torch


def forward(x, H, v):
    return x + torch.relu(x @ H.T + v)


def backward(x, H, v, dy):
    g = dy * (x @ H.T + v > 0)
    return dy + g @ H, g.T @ x, g


def sgd_step(x, H, v, dy, lr):
    _, dH, dv = backward(x, H, v, dy)
    return H - lr * dH, v - lr * dv
