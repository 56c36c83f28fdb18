"""Correct, another way: nested Python lists of floats and explicit loops over every entry, the
chain rule one scalar at a time."""

import math

import torch


def backprop(A_list, b_list, x, y):
    A = [a.tolist() for a in A_list]
    b = [[row[0] for row in v.tolist()] for v in b_list]
    h = [row[0] for row in x.tolist()]
    L = len(A)
    inputs, outputs = [], []
    for l in range(L):
        inputs.append(h)
        z = [sum(A[l][i][j] * h[j] for j in range(len(h))) + b[l][i] for i in range(len(A[l]))]
        h = [1.0 / (1.0 + math.exp(-t)) if -t < 700 else 0.0 for t in z] if l < L - 1 else z
        outputs.append(h)
    g = [hi - yi[0] for hi, yi in zip(h, y.tolist())]
    dA, db = [None] * L, [None] * L
    for l in reversed(range(L)):
        if l < L - 1:
            g = [gi * s * (1.0 - s) for gi, s in zip(g, outputs[l])]
        db[l] = torch.tensor([[gi] for gi in g], dtype=x.dtype)
        dA[l] = torch.tensor([[gi * hj for hj in inputs[l]] for gi in g], dtype=x.dtype).reshape(len(g), len(inputs[l]))
        g = [sum(A[l][i][j] * g[i] for i in range(len(g))) for j in range(len(inputs[l]))]
    return dA, db
