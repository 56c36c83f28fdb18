"""Reference for hw5/momentum: the heavy-ball form and the velocity form of momentum SGD."""


def heavy_ball(theta0, grads, lr, beta):
    previous, current = theta0, theta0
    out = []
    for g in grads:
        previous, current = current, current - lr * g + beta * (current - previous)
        out.append(current)
    return out


def momentum_sgd(theta0, grads, lr, beta):
    theta, v = theta0, None
    out = []
    for g in grads:
        v = g if v is None else g + beta * v
        theta = theta - lr * v
        out.append(theta)
    return out
