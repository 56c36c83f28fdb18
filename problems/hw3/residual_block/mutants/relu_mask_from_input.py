# Takes the ReLU mask from the block's input x instead of the pre-activation x H^T + v.
# fails: test_backward_dx, test_backward_dH, test_backward_dv, test_sgd_step, test_arguments_are_left_unchanged
import torch


def forward(x, H, v):
    return x + torch.relu(x @ H.T + v)


def backward(x, H, v, dy):
    g = dy * (x > 0)
    return dy + g @ H, g.T @ x, g.sum(dim=0)


def sgd_step(x, H, v, dy, lr):
    _, dH, dv = backward(x, H, v, dy)
    return H - lr * dH, v - lr * dv
