def output_mean_var(widths):
    # Every entry of A_k and b_k is U(-1/sqrt(n_{k-1}), 1/sqrt(n_{k-1})): mean 0, variance 1/(3 n_{k-1}).
    # E[y_l] = 0 and Var[y_l] = (Var[y_{l-1}] * n_{l-1} + 1) / (3 n_{l-1}).
    var = 1.0
    for n in widths[:-1]:
        var = (var * n + 1) / (3 * n)
    return 0.0, var
