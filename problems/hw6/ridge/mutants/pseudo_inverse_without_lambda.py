# Fits with the pseudo-inverse, ignoring lam altogether (the minimum-norm least-squares solution).
# fails: test_ridge_fit_with_fewer_features_than_samples, test_ridge_fit_with_more_features_than_samples, test_ridge_fit_with_as_many_features_as_samples, test_best_lambda_minimizes_the_validation_error, test_arguments_are_left_unchanged
import torch


def relu_features(X, W):
    return torch.relu(X @ W.T)


def ridge_fit(X, Y, lam):
    return torch.linalg.pinv(X) @ Y


def best_lambda(X_train, Y_train, X_val, Y_val, lambdas):
    errors = [((X_val @ ridge_fit(X_train, Y_train, float(lam)) - Y_val) ** 2).mean() for lam in lambdas]
    return float(lambdas[int(torch.stack(errors).argmin())])
