# Takes the variance of U(-1/sqrt(n), 1/sqrt(n)) to be 1/n instead of 1/(3n).
# fails: test_one_layer, test_two_layers, test_deeper_networks, test_very_deep_or_very_wide_networks, test_the_widths_are_left_unchanged
def output_mean_var(widths):
    variance = 1.0
    for fan_in in widths[:-1]:
        variance = variance + 1.0 / fan_in
    return 0.0, variance
