"""The secret reference of hw6/default_init against a Monte Carlo estimate over real nn.Linear stacks."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from torch import nn

REFERENCE = Path(__file__).resolve().parents[2] / "reference" / "hw6" / "default_init.py"
TRIALS = 100_000


def load_reference():
    spec = importlib.util.spec_from_file_location("default_init_reference", REFERENCE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sample_outputs(widths: list[int], trials: int, seed: int) -> torch.Tensor:
    """y_L for `trials` independent draws of the input and of the network's default initialization.

    One nn.Linear(n_in, n_out * trials) holds `trials` independent layers at once: its initialization
    depends only on the fan-in n_in, so each block of n_out rows is distributed like a fresh
    nn.Linear(n_in, n_out).
    """
    torch.manual_seed(seed)
    y = torch.randn(trials, widths[0], 1, dtype=torch.float64)
    for n_in, n_out in zip(widths, widths[1:]):
        layer = nn.Linear(n_in, n_out * trials, dtype=torch.float64)
        weight = layer.weight.detach().reshape(trials, n_out, n_in)
        bias = layer.bias.detach().reshape(trials, n_out, 1)
        y = weight @ y + bias
    return y.reshape(trials)


@pytest.mark.parametrize("widths", [[1, 1], [3, 1], [5, 2, 1], [2, 7, 3, 1], [4, 4, 4, 4, 1]])
def test_reference_matches_a_monte_carlo_estimate(widths):
    mean, var = load_reference().output_mean_var(widths)
    y = sample_outputs(widths, TRIALS, seed=sum(widths))
    # Five standard errors of each estimate, from the sample itself.
    mean_error = 5 * float(y.std()) / TRIALS**0.5
    centred_squares = (y - y.mean()) ** 2
    var_error = 5 * float(centred_squares.std()) / TRIALS**0.5
    assert mean == 0.0
    assert abs(float(y.mean()) - mean) <= mean_error
    assert abs(float(y.var()) - var) <= var_error
    # The tolerance is tight enough to tell the right formula from the usual mistakes.
    assert var_error < 0.1 * var
