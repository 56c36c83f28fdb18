import math

import torch


def _sig(t):
    return 1.0 / (1.0 + math.exp(-t))


def backprop(A_list, b_list, x, y):
    """Entry by entry, in Python floats (double precision), then back to tensors of the input dtype."""
    dtype = x.dtype
    A = [a.double().tolist() for a in A_list]
    b = [[row[0] for row in v.double().tolist()] for v in b_list]
    h = [row[0] for row in x.double().tolist()]
    L = len(A)
    hs, zs = [h], []
    for l in range(L):
        z = [sum(A[l][i][j] * h[j] for j in range(len(h))) + b[l][i] for i in range(len(A[l]))]
        zs.append(z)
        h = [_sig(t) for t in z] if l < L - 1 else z
        hs.append(h)
    g = [hi - yi[0] for hi, yi in zip(h, y.double().tolist())]
    dA, db = [None] * L, [None] * L
    for l in range(L - 1, -1, -1):
        if l < L - 1:
            g = [gi * _sig(zi) * (1 - _sig(zi)) for gi, zi in zip(g, zs[l])]
        db[l] = torch.tensor([[gi] for gi in g], dtype=dtype)
        dA[l] = torch.tensor([[gi * hj for hj in hs[l]] for gi in g], dtype=dtype)
        g = [sum(A[l][i][j] * g[i] for i in range(len(g))) for j in range(len(hs[l]))]
    return dA, db
