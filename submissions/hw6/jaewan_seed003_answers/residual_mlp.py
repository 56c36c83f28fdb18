import torch


def sigma_and_prime(name):
    if name == "tanh":
        return torch.tanh, lambda z: 1 - torch.tanh(z) ** 2
    if name == "sigmoid":
        return torch.sigmoid, lambda z: torch.sigmoid(z) * (1 - torch.sigmoid(z))
    return torch.nn.functional.softplus, torch.sigmoid


def grads(A_list, b_list, x, activation):
    sigma, sigma_prime = sigma_and_prime(activation)
    L = len(A_list)
    ys, zs = [x], []
    for l in range(L - 1):
        z = A_list[l] @ ys[-1] + b_list[l]
        zs.append(z)
        ys.append(sigma(z) + (ys[-1] if l > 0 else 0))
    # dy_l/dy_{l-1} = diag(sigma'(A_l y_{l-1} + b_l)) A_l + {1}_{i,j}
    jac = [None] * L
    for l in range(1, L - 1):
        m = A_list[l].shape[0]
        jac[l] = torch.diag(sigma_prime(zs[l])) @ A_list[l] + torch.ones(m, m, dtype=x.dtype)
    dA, db = [None] * L, [None] * L
    dA[L - 1] = ys[L - 1].reshape(1, -1)
    db[L - 1] = torch.ones(1, dtype=x.dtype)
    row = A_list[L - 1]  # dy_L/dy_{L-1}
    for l in range(L - 2, -1, -1):
        D = torch.diag(sigma_prime(zs[l]))
        db[l] = (row @ D).reshape(-1)
        dA[l] = D @ row.T @ ys[l].reshape(1, -1)
        if l > 0:
            row = row @ jac[l]
    return dA, db
