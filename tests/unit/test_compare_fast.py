"""assert_close's numpy fast path decides exactly as the full torch path does (grader.grading.compare)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.grading import compare

SPECIAL = [0.0, -0.0, 1e-300, 1e300, math.inf, -math.inf, math.nan, 1.0, -1.0, 3.4e38]
values = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64), st.sampled_from(SPECIAL))


def torch_decides(actual, expected, **opts) -> bool:
    """Whether the full path (the fast path switched off) accepts `actual`."""
    saved = compare._all_close_numpy
    compare._all_close_numpy = lambda *a, **k: False
    try:
        compare._compare_tensors(actual, expected, "x", **opts)
        return True
    except AssertionError:
        return False
    finally:
        compare._all_close_numpy = saved


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(
    expected=st.lists(values, min_size=1, max_size=6),
    noise=st.lists(st.one_of(st.floats(-1e-3, 1e-3), st.sampled_from([0.0, 1e-5, 1e-9, math.nan, math.inf])),
                   min_size=6, max_size=6),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    rtol=st.sampled_from([None, 0.0, 1e-7, 1e-4]),
    atol=st.sampled_from([None, 0.0, 1e-9, 1e-5]),
    scale=st.sampled_from([None, 1.0, 1e3]),
    equal_nan=st.booleans(),
)
def test_the_fast_path_never_accepts_what_the_full_path_rejects_and_accepts_what_it_accepts(
    expected, noise, dtype, rtol, atol, scale, equal_nan
):
    e = torch.tensor(expected, dtype=torch.float64).to(dtype)
    a = (e.double() + torch.tensor(noise[: len(expected)], dtype=torch.float64)).to(dtype)
    tol = compare.DEFAULT_TOLERANCES[dtype]
    r, t = (tol.rtol if rtol is None else rtol), (tol.atol if atol is None else atol)
    fast = compare._all_close_numpy(a, e, r, t, scale, equal_nan)
    full = torch_decides(a, e, dtype=dtype, rtol=rtol, atol=atol, scale=scale, equal_nan=equal_nan)
    assert fast == full


def test_what_numpy_cannot_hold_goes_to_the_full_path():
    x = torch.ones(3, dtype=torch.bfloat16)
    assert compare._all_close_numpy(x, x, 1e-2, 1e-2, None, False) is False
    compare.assert_close(x, x, rtol=1e-2, atol=1e-2)  # and the full path decides


def test_a_mismatch_is_still_described_in_full():
    with pytest.raises(AssertionError, match="Mismatched elements: 1 / 2"):
        compare.assert_close(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 3.0]))
    assert compare._all_close_numpy(torch.zeros(0), torch.zeros(0), 0, 0, None, False) is True
