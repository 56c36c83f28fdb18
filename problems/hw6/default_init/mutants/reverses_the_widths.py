# Right mean and variance, but it reverses the caller's list in place to walk from the output down
# (and never reverses it back): the caller's widths come back in the wrong order.
# fails: test_the_widths_are_left_unchanged


def output_mean_var(widths):
    widths.reverse()  # [1, n_{L-1}, ..., n_0]
    depth = len(widths) - 1
    variance, weight = 0.0, 1.0
    for fan_in in widths[1:]:  # from the last layer's fan-in down to n_0
        weight /= 3.0
        variance += weight / fan_in
    return 0.0, variance + 3.0 ** -depth
