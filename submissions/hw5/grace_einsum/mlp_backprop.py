import torch


def backprop(A_list, b_list, x, y):
    # Work in float64 and cast back at the end.
    dt = x.dtype
    As = [A.double() for A in A_list]
    bs = [b.double() for b in b_list]
    outs, derivs = [x.double()], []
    for l, (A, b) in enumerate(zip(As, bs)):
        z = torch.einsum("ij,jk->ik", A, outs[-1]) + b
        if l == len(As) - 1:
            outs.append(z)
            derivs.append(torch.ones_like(z))
        else:
            s = torch.sigmoid(z)
            outs.append(s)
            derivs.append(s * (1 - s))
    g = outs[-1] - y.double()
    dA, db = [], []
    for l in reversed(range(len(As))):
        delta = g * derivs[l]
        db.append(delta.to(dt))
        dA.append(torch.einsum("ik,jk->ij", delta, outs[l]).to(dt))
        g = torch.einsum("ji,jk->ik", As[l], delta)
    return dA[::-1], db[::-1]
