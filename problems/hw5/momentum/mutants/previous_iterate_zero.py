# Starts form I with theta^{-1} = 0 instead of theta^{-1} = theta^0.
# fails: test_heavy_ball_first_step_is_a_gradient_step, test_heavy_ball_follows_the_recursion, test_arguments_are_left_unchanged
import torch


def heavy_ball(theta0, grads, lr, beta):
    previous, current = torch.zeros_like(theta0), theta0
    out = []
    for g in grads:
        previous, current = current, current - lr * g + beta * (current - previous)
        out.append(current)
    return out


def momentum_sgd(theta0, grads, lr, beta):
    theta, v = theta0, torch.zeros_like(theta0)
    out = []
    for g in grads:
        v = g + beta * v
        theta = theta - lr * v
        out.append(theta)
    return out
