"""Correct, another way: the recursion solved in closed form,
Var y_L = 3^-L + sum_{l=1..L} 3^-(L-l+1) / n_{l-1}, summed with math.fsum."""

import math


def output_mean_var(widths):
    fan_ins = list(widths[:-1])
    depth = len(fan_ins)
    terms = [3.0 ** -depth]
    for l, n in enumerate(fan_ins, start=1):
        terms.append(3.0 ** -(depth - l + 1) / n)
    return 0.0, math.fsum(terms)
