# Assumes Kaiming-normal weights (variance 2/n_in) instead of PyTorch's default uniform ones.
# fails: test_one_layer, test_two_layers, test_deeper_networks, test_very_deep_or_very_wide_networks, test_the_widths_are_left_unchanged
def output_mean_var(widths):
    variance = 1.0
    for fan_in in widths[:-1]:
        variance = fan_in * variance * 2.0 / fan_in + 1.0 / (3.0 * fan_in)
    return 0.0, variance
