def momentum_sgd(theta0, grads, lr, beta):
    out, theta, v = [], theta0, None
    for g in grads:
        v = g if v is None else g + beta * v
        theta = theta - lr * v
        out.append(theta)
    return out


def heavy_ball(theta0, grads, lr, beta):
    # Form I: the step theta^{k+1} - theta^k is -lr g^k plus beta times the previous step.
    out, theta, step = [], theta0, 0 * theta0
    for g in grads:
        step = -lr * g + beta * step
        theta = theta + step
        out.append(theta)
    return out
