# Right iterates, but form II updates theta0 itself in place (theta -= lr * v on the argument) and
# returns copies: the caller's theta0 ends at theta^K.
# fails: test_arguments_are_left_unchanged


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
        theta -= lr * v
        out.append(theta.clone())
    return out
