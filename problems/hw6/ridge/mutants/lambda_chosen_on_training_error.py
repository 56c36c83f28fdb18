# Chooses lambda by the training error instead of the validation error.
# fails: test_best_lambda_minimizes_the_validation_error
import torch


def relu_features(X, W):
    return torch.relu(X @ W.T)


def ridge_fit(X, Y, lam):
    n, p = X.shape
    if p <= n:
        return torch.linalg.solve(X.T @ X + lam * torch.eye(p, dtype=X.dtype), X.T @ Y)
    return X.T @ torch.linalg.solve(X @ X.T + lam * torch.eye(n, dtype=X.dtype), Y)


def best_lambda(X_train, Y_train, X_val, Y_val, lambdas):
    errors = [((X_train @ ridge_fit(X_train, Y_train, float(lam)) - Y_train) ** 2).mean() for lam in lambdas]
    return float(lambdas[int(torch.stack(errors).argmin())])
