"""Reference for hw6/default_init (secret): mean and variance of a linear MLP's output at PyTorch's
default initialization.

nn.Linear(n_in, n_out) draws every weight and every bias from U(-1/sqrt(n_in), 1/sqrt(n_in)): mean 0,
variance 1/(3 n_in). Every entry of y_l has mean 0, and, since the weights are independent of y_{l-1}
and of each other, the same variance v_l = n_{l-1} v_{l-1} / (3 n_{l-1}) + 1/(3 n_{l-1}), with v_0 = 1.
"""


def output_mean_var(widths):
    variance = 1.0
    for fan_in in widths[:-1]:
        variance = variance / 3.0 + 1.0 / (3.0 * fan_in)
    return 0.0, variance
