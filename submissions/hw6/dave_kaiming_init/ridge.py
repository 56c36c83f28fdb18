import torch


def relu_features(X, W):
    return torch.relu(X @ W.T)


def ridge_fit(X, Y, lam):
    return torch.linalg.pinv(X) @ Y


def best_lambda(X_train, Y_train, X_val, Y_val, lambdas):
    errors = [((X_val @ ridge_fit(X_train, Y_train, lam) - Y_val) ** 2).mean() for lam in lambdas]
    return float(lambdas[int(torch.argmin(torch.stack(errors)))])
