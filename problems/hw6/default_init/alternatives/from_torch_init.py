"""Correct, another way: the distributions read off PyTorch's own init helpers (the gain of
kaiming_uniform_ with a = sqrt(5), the fan-in bound of the bias), then mean and second moment
carried layer by layer."""

import math

import torch


def _uniform_moments(bound):
    return 0.0, bound * bound / 3.0  # U(-bound, bound)


def output_mean_var(widths):
    gain = torch.nn.init.calculate_gain("leaky_relu", math.sqrt(5))
    mean, second = 0.0, 1.0  # of one entry of y_{l-1}: E[y], E[y^2]
    for n_in in widths[:-1]:
        w_mean, w_var = _uniform_moments(gain * math.sqrt(3.0 / n_in))
        b_mean, b_var = _uniform_moments(1.0 / math.sqrt(n_in))
        # y = sum_j A_j y_j + b with A_j, b independent of y and of each other, all zero-mean
        mean = n_in * w_mean * mean + b_mean
        second = n_in * (w_var + w_mean ** 2) * second + b_var + b_mean ** 2
    return mean, second - mean ** 2
