import torch


def grads(A_list, b_list, x, activation):
    """In float64 with explicit Jacobians: J_l = diag(sigma'(z_l)) A_l + I."""
    dt = x.dtype
    A = [a.double() for a in A_list]
    b = [v.double() for v in b_list]
    if activation == "tanh":
        f, df = torch.tanh, lambda z: 1 / torch.cosh(z) ** 2
    elif activation == "sigmoid":
        f, df = torch.sigmoid, lambda z: torch.exp(-z) / (1 + torch.exp(-z)) ** 2
    else:
        f, df = (lambda z: torch.log1p(torch.exp(z))), (lambda z: 1 / (1 + torch.exp(-z)))
    L = len(A)
    y = [x.double()]
    z = []
    for l in range(L - 1):
        z.append(torch.einsum("ij,j->i", A[l], y[l]) + b[l])
        y.append(f(z[l]) + (y[l] if l >= 1 else 0))
    row = A[L - 1]  # dy_L/dy_{L-1}, shape [1, m]
    dA, db = [None] * L, [None] * L
    dA[L - 1] = y[L - 1].reshape(1, -1)
    db[L - 1] = torch.ones(1, dtype=torch.float64)
    for l in range(L - 2, -1, -1):
        local = torch.diag(df(z[l]))
        dbl = (row @ local).reshape(-1)
        db[l] = dbl
        dA[l] = torch.einsum("i,j->ij", dbl, y[l])
        if l >= 1:
            m = A[l].shape[0]
            row = row @ (local @ A[l] + torch.eye(m, dtype=torch.float64))
    return [t.to(dt) for t in dA], [t.to(dt) for t in db]
