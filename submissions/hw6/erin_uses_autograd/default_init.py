def output_mean_var(widths):
    # Weights and biases of nn.Linear(n, m) are U(-1/sqrt(n), 1/sqrt(n)): mean 0, variance 1/(3n).
    var = 1.0
    for n in widths[:-1]:
        var = n * (1 / (3 * n)) * var + 1 / (3 * n)
    return 0.0, var
