# Solves with 2 * lam (as if the penalty were lam ||theta||^2 without the 1/2, but the loss kept its 1/2).
# fails: test_ridge_fit_with_fewer_features_than_samples, test_ridge_fit_with_more_features_than_samples, test_ridge_fit_with_as_many_features_as_samples, test_best_lambda_minimizes_the_validation_error, test_arguments_are_left_unchanged
import torch


def relu_features(X, W):
    return torch.relu(X @ W.T)


def ridge_fit(X, Y, lam):
    p = X.shape[1]
    return torch.linalg.solve(X.T @ X + 2 * lam * torch.eye(p, dtype=X.dtype), X.T @ Y)


def best_lambda(X_train, Y_train, X_val, Y_val, lambdas):
    errors = [((X_val @ ridge_fit(X_train, Y_train, float(lam)) - Y_val) ** 2).mean() for lam in lambdas]
    return float(lambdas[int(torch.stack(errors).argmin())])
