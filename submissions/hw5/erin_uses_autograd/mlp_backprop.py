import torch


def backprop(A_list, b_list, x, y):
    A_list = [A.detach().clone().requires_grad_(True) for A in A_list]
    b_list = [b.detach().clone().requires_grad_(True) for b in b_list]
    h = x
    for l, (A, b) in enumerate(zip(A_list, b_list)):
        h = A @ h + b
        if l < len(A_list) - 1:
            h = torch.sigmoid(h)
    loss = 0.5 * ((h - y) ** 2).sum()
    grads = torch.autograd.grad(loss, A_list + b_list)
    return list(grads[: len(A_list)]), list(grads[len(A_list):])
