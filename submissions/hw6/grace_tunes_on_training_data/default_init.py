def output_mean_var(widths):
    # weights and biases uniform on [-1/sqrt(n), 1/sqrt(n)], so variance 1/n each
    v = 1.0
    for n in widths[:-1]:
        v = n * v / n + 1 / n
    return 0.0, v
