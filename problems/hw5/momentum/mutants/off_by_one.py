# Records each iterate before updating it: returns theta^0, ..., theta^{K-1}.
# fails: test_heavy_ball_first_step_is_a_gradient_step, test_heavy_ball_follows_the_recursion, test_momentum_sgd_follows_the_recursion, test_momentum_sgd_agrees_with_torch_optim_sgd, test_beta_zero_is_plain_gradient_descent, test_arguments_are_left_unchanged
def heavy_ball(theta0, grads, lr, beta):
    previous, current = theta0, theta0
    out = []
    for g in grads:
        out.append(current)
        previous, current = current, current - lr * g + beta * (current - previous)
    return out


def momentum_sgd(theta0, grads, lr, beta):
    theta, v = theta0, 0 * theta0
    out = []
    for g in grads:
        out.append(theta)
        v = g + beta * v
        theta = theta - lr * v
    return out
