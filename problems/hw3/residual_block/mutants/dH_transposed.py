# Returns the transpose of dH: the shape is right (H is square), the values are not.
# fails: test_backward_dH, test_sgd_step, test_arguments_are_left_unchanged
import torch


def forward(x, H, v):
    return x + torch.relu(x @ H.T + v)


def backward(x, H, v, dy):
    g = dy * (x @ H.T + v > 0)
    return dy + g @ H, x.T @ g, g.sum(dim=0)


def sgd_step(x, H, v, dy, lr):
    _, dH, dv = backward(x, H, v, dy)
    return H - lr * dH, v - lr * dv
