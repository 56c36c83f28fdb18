import torch


def relu_features(X, W):
    return torch.relu(X @ W.T)


def ridge_fit(X, Y, lam):
    p = X.shape[1]
    return torch.linalg.solve(X.T @ X + lam * torch.eye(p, dtype=X.dtype), X.T @ Y)


def best_lambda(X_train, Y_train, X_val, Y_val, lambdas):
    best, best_err = None, float("inf")
    for lam in lambdas.tolist():
        theta = ridge_fit(X_train, Y_train, lam)
        err = float(((X_val @ theta - Y_val) ** 2).mean())
        if err < best_err:
            best, best_err = lam, err
    return best
