import torch
from torch.autograd import grad


def grads(A_list, b_list, x, activation):
    f = getattr(torch.nn.functional, activation) if activation == "softplus" else getattr(torch, activation)
    As = [A.detach().requires_grad_() for A in A_list]
    bs = [b.detach().requires_grad_() for b in b_list]
    y = f(As[0] @ x + bs[0])
    for A, b in zip(As[1:-1], bs[1:-1]):
        y = f(A @ y + b) + y
    out = (As[-1] @ y + bs[-1]).sum()
    g = grad(out, As + bs)
    return list(g[: len(As)]), list(g[len(As):])
