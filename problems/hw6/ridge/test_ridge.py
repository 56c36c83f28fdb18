"""Tests for hw6/ridge (float64): features, the ridge minimizer with fewer and with more features than
samples (primal and dual formulas both pass), and tuning lambda on validation data."""

import torch
from hypothesis import assume, given, note
from hypothesis import strategies as st

from grader import assert_close, call_pure, points
from grader.strategies import seeds, tensor

F64 = torch.float64
lambdas_log = st.floats(-2.0, 2.0).map(lambda v: round(10**v, 4))


def expected_ridge(X: torch.Tensor, Y: torch.Tensor, lam: float) -> torch.Tensor:
    """The minimizer from the normal equations, solved by least squares on the stacked system
    [X; sqrt(lam) I] theta = [Y; 0] (a different route from either closed form)."""
    p = X.shape[1]
    stacked = torch.cat([X, lam**0.5 * torch.eye(p, dtype=F64)])
    rhs = torch.cat([Y, torch.zeros(p, dtype=F64)])
    return torch.linalg.lstsq(stacked, rhs.unsqueeze(1), driver="gelsd").solution.squeeze(1)


def regression_data(n: int, p: int, seed: int):
    X = tensor((n, p), seed, dtype=F64)
    Y = X @ tensor((p,), seed + 1, dtype=F64) + 0.5 * tensor((n,), seed + 2, dtype=F64)
    return X, Y


@points(2)
@given(n=st.integers(1, 12), d=st.integers(1, 6), p=st.integers(1, 12), seed=seeds())
def test_relu_features(student, n, d, p, seed):
    X = tensor((n, d), seed, dtype=F64)
    W = tensor((p, d), seed + 1, dtype=F64, scale=p**-0.5)
    assert_close(student.relu_features(X, W), torch.clamp(X @ W.T, min=0), name="relu_features(X, W)")


@points(2)
@given(n=st.integers(4, 30), data=st.data(), lam=lambdas_log, seed=seeds())
def test_ridge_fit_with_fewer_features_than_samples(student, n, data, lam, seed):
    p = data.draw(st.integers(1, n - 1), label="p")
    X, Y = regression_data(n, p, seed)
    assert_close(student.ridge_fit(X, Y, lam), expected_ridge(X, Y, lam), rtol=1e-6, atol=1e-8,
                 name=f"ridge_fit(X, Y, lam={lam}) with p={p} < N={n}")


@points(2)
@given(n=st.integers(2, 20), data=st.data(), lam=lambdas_log, seed=seeds())
def test_ridge_fit_with_more_features_than_samples(student, n, data, lam, seed):
    p = data.draw(st.integers(n + 1, 3 * n + 5), label="p")
    X, Y = regression_data(n, p, seed)
    assert_close(student.ridge_fit(X, Y, lam), expected_ridge(X, Y, lam), rtol=1e-6, atol=1e-8,
                 name=f"ridge_fit(X, Y, lam={lam}) with p={p} > N={n}")


@points(1)
@given(n=st.integers(2, 15), lam=st.sampled_from([1e-3, 0.1, 1.0, 10.0, 1e3]), seed=seeds())
def test_ridge_fit_with_as_many_features_as_samples(student, n, lam, seed):
    X, Y = regression_data(n, n, seed)
    theta = student.ridge_fit(X, Y, lam)
    assert_close(theta, expected_ridge(X, Y, lam), rtol=1e-6, atol=1e-8, name=f"ridge_fit(X, Y, lam={lam}) with p = N")
    # The minimizer is where the gradient of the objective vanishes.
    gradient = X.T @ (X @ theta - Y) + lam * theta
    assert_close(gradient, torch.zeros(n, dtype=F64), atol=1e-7, scale=1 + float(X.abs().max() * Y.abs().max()) * n,
                 name="the objective's gradient at ridge_fit(X, Y, lam)")


@st.composite
def tuning_problems(draw):
    """A double-descent setting like the seed's (random ReLU features near the interpolation threshold)
    where the validation error has a clear minimizer that is not the smallest lambda."""
    d = draw(st.integers(3, 8))
    n_train, n_val = draw(st.integers(10, 30)), draw(st.integers(8, 20))
    p = draw(st.integers(max(2, n_train - 5), n_train + 5))
    k = draw(st.integers(4, 8))
    seed = draw(seeds())
    X = tensor((n_train + n_val, d), seed, dtype=F64)
    Y = X @ tensor((d,), seed + 1, dtype=F64) + 0.5 * tensor((n_train + n_val,), seed + 2, dtype=F64)
    W = tensor((p, d), seed + 3, dtype=F64, scale=p**-0.5)
    features = torch.relu(X @ W.T)
    lambdas = torch.logspace(-2, 2, k, dtype=F64)
    return features[:n_train], Y[:n_train], features[n_train:], Y[n_train:], lambdas


def validation_errors(X_train, Y_train, X_val, Y_val, lambdas) -> torch.Tensor:
    fits = [expected_ridge(X_train, Y_train, float(lam)) for lam in lambdas]
    return torch.stack([((X_val @ theta - Y_val) ** 2).mean() for theta in fits])


@points(2)
@given(problem=tuning_problems())
def test_best_lambda_minimizes_the_validation_error(student, problem):
    X_train, Y_train, X_val, Y_val, lambdas = problem
    errors = validation_errors(*problem)
    order = errors.argsort()
    # Avoid near-ties, and cases where the smallest lambda wins (training error also picks it).
    assume(float(errors[order[1]]) > 1.01 * float(errors[order[0]]) and int(order[0]) != 0)
    note(f"lambdas = {lambdas.tolist()}")
    note(f"validation mean squared errors = {errors.tolist()}")
    best = float(lambdas[order[0]])
    assert_close(call_pure(student.best_lambda, X_train, Y_train, X_val, Y_val, lambdas), best, rtol=1e-9,
                 name="best_lambda(X_train, Y_train, X_val, Y_val, lambdas)")


@points(1)
@given(n=st.integers(3, 10), p=st.integers(1, 14), lam=lambdas_log, seed=seeds())
def test_arguments_are_left_unchanged(student, n, p, lam, seed):
    X, Y = regression_data(n, p, seed)
    assert_close(call_pure(student.ridge_fit, X, Y, lam), expected_ridge(X, Y, lam), rtol=1e-6, atol=1e-8,
                 name=f"ridge_fit(X, Y, lam={lam})")
    W = tensor((4, p), seed + 5, dtype=F64)
    assert_close(call_pure(student.relu_features, X, W), torch.clamp(X @ W.T, min=0), name="relu_features(X, W)")
