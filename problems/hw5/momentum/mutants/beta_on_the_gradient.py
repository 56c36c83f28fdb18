# In form II, multiplies the new gradient by beta instead of the old velocity: v^{k+1} = beta g^k + v^k.
# fails: test_momentum_sgd_follows_the_recursion, test_momentum_sgd_agrees_with_torch_optim_sgd, test_beta_zero_is_plain_gradient_descent, test_arguments_are_left_unchanged
def heavy_ball(theta0, grads, lr, beta):
    previous, current = theta0, theta0
    out = []
    for g in grads:
        previous, current = current, current - lr * g + beta * (current - previous)
        out.append(current)
    return out


def momentum_sgd(theta0, grads, lr, beta):
    theta, v = theta0, 0 * theta0
    out = []
    for g in grads:
        v = beta * g + v
        theta = theta - lr * v
        out.append(theta)
    return out
