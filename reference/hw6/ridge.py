"""Reference for hw6/ridge: random ReLU features, ridge regression, and tuning lambda on validation data."""

import torch


def relu_features(X, W):
    return torch.relu(X @ W.T)


def ridge_fit(X, Y, lam):
    n, p = X.shape
    if p <= n:  # primal: (X^T X + lam I) theta = X^T Y, a p x p system
        return torch.linalg.solve(X.T @ X + lam * torch.eye(p, dtype=X.dtype), X.T @ Y)
    # dual: theta = X^T (X X^T + lam I)^{-1} Y, an n x n system
    return X.T @ torch.linalg.solve(X @ X.T + lam * torch.eye(n, dtype=X.dtype), Y)


def best_lambda(X_train, Y_train, X_val, Y_val, lambdas):
    errors = [((X_val @ ridge_fit(X_train, Y_train, float(lam)) - Y_val) ** 2).mean() for lam in lambdas]
    return float(lambdas[int(torch.stack(errors).argmin())])
