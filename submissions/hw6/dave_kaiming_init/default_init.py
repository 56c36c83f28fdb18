def output_mean_var(widths):
    # He initialization: Var(A_ij) = 2 / fan_in; the bias keeps PyTorch's U(-1/sqrt(n), 1/sqrt(n)).
    v = 1.0
    for n in widths[:-1]:
        v = n * (2.0 / n) * v + 1.0 / (3 * n)
    return 0.0, v
