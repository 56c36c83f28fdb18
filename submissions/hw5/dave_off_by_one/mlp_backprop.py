import torch


def backprop(A_list, b_list, x, y):
    acts, pres = [x], []
    for i, (A, b) in enumerate(zip(A_list, b_list)):
        pres.append(torch.einsum("ij,jk->ik", A, acts[-1]) + b)
        acts.append(torch.sigmoid(pres[-1]) if i + 1 < len(A_list) else pres[-1])
    grad_out = acts[-1] - y
    dAs, dbs = [], []
    for i in range(len(A_list) - 1, -1, -1):
        if i + 1 < len(A_list):
            s = torch.sigmoid(pres[i])
            grad_out = grad_out * s * (1 - s)
        dbs.insert(0, grad_out)
        dAs.insert(0, torch.einsum("ik,jk->ij", grad_out, acts[i]))
        grad_out = torch.einsum("ij,ik->jk", A_list[i], grad_out)
    return dAs, dbs
