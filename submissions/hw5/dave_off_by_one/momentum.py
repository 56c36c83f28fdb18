def heavy_ball(theta0, grads, lr, beta):
    history = []
    theta, theta_prev = theta0, theta0
    for g in grads:
        history.append(theta)
        theta, theta_prev = theta - lr * g + beta * (theta - theta_prev), theta
    return history


def momentum_sgd(theta0, grads, lr, beta):
    history = []
    theta, v = theta0, 0
    for g in grads:
        history.append(theta)
        v = g + beta * v
        theta = theta - lr * v
    return history
