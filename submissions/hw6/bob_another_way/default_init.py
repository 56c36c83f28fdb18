from fractions import Fraction


def output_mean_var(widths):
    # Exact arithmetic: Var(y_l) = n * Var(a) * Var(y_{l-1}) + Var(b), Var(a) = Var(b) = 1/(3n).
    v = Fraction(1)
    for n in widths[:-1]:
        v = v / 3 + Fraction(1, 3 * n)
    return 0.0, float(v)
