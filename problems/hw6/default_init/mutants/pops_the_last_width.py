# Right mean and variance, but it drops the trailing 1 from the caller's list with widths.pop() to
# loop over the fan-ins: the caller's widths lose their last entry.
# fails: test_the_widths_are_left_unchanged


def output_mean_var(widths):
    widths.pop()  # the output width, 1: not a fan-in
    variance = 1.0
    for fan_in in widths:
        variance = variance / 3.0 + 1.0 / (3.0 * fan_in)
    return 0.0, variance
