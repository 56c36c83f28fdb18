import torch


def heavy_ball(theta0, grads, lr, beta):
    old = torch.zeros_like(theta0)
    theta = theta0
    result = []
    for g in grads:
        theta, old = theta - lr * g + beta * (theta - old), theta
        result.append(theta)
    return result


def momentum_sgd(theta0, grads, lr, beta):
    v = torch.zeros_like(theta0)
    theta = theta0
    result = []
    for g in grads:
        v = g + beta * v
        theta = theta - lr * v
        result.append(theta)
    return result
