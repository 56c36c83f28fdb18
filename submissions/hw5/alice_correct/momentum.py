def heavy_ball(theta0, grads, lr, beta):
    thetas = [theta0, theta0]  # theta^{-1}, theta^0
    for g in grads:
        thetas.append(thetas[-1] - lr * g + beta * (thetas[-1] - thetas[-2]))
    return thetas[2:]


def momentum_sgd(theta0, grads, lr, beta):
    theta = theta0.clone()
    v = 0 * theta0
    out = []
    for g in grads:
        v = g + beta * v
        theta = theta - lr * v
        out.append(theta)
    return out
