"""Correct, another way: numpy, always the dual system X^T (X X^T + lam I)^{-1} Y, whatever p and N."""

import numpy as np
import torch


def relu_features(X, W):
    return torch.from_numpy(np.maximum(X.numpy() @ W.numpy().T, 0.0))


def _dual(X, Y, lam):
    n = X.shape[0]
    return X.T @ np.linalg.solve(X @ X.T + lam * np.eye(n), Y)


def ridge_fit(X, Y, lam):
    return torch.from_numpy(_dual(X.numpy(), Y.numpy(), float(lam)))


def best_lambda(X_train, Y_train, X_val, Y_val, lambdas):
    Xt, Yt, Xv, Yv = (t.numpy() for t in (X_train, Y_train, X_val, Y_val))
    errors = [np.mean((Xv @ _dual(Xt, Yt, lam) - Yv) ** 2) for lam in lambdas.numpy()]
    return float(lambdas.numpy()[int(np.argmin(errors))])
