"""Tests for hw6/default_init: the mean and variance of y_L for many width profiles.

The reference is secret (it is the answer); the project's own test suite checks it against a Monte
Carlo estimate over real nn.Linear stacks (tests/unit/test_default_init_reference.py).
"""

from hypothesis import given
from hypothesis import strategies as st

from grader import assert_close, call_pure, points

RTOL = 1e-9


def widths(*, min_layers: int, max_layers: int, max_width: int = 64) -> st.SearchStrategy[list[int]]:
    """[n0, ..., n_{L-1}, 1]: L layers, the last with one output."""
    return st.lists(st.integers(1, max_width), min_size=min_layers, max_size=max_layers).map(lambda w: w + [1])


def check(student, reference, sizes: list[int]) -> None:
    __tracebackhide__ = True
    result = student.output_mean_var(sizes)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise AssertionError(f"output_mean_var must return a pair (mean, variance), got {result!r}")
    mean, var = reference.output_mean_var(sizes)
    # The mean is exactly 0: compare it with an absolute tolerance.
    assert_close(result[0], mean, rtol=RTOL, atol=1e-12, name=f"the mean for widths={sizes}")
    assert_close(result[1], var, rtol=RTOL, atol=0.0, name=f"the variance for widths={sizes}")


@points(2)
@given(sizes=widths(min_layers=1, max_layers=1))
def test_one_layer(student, reference, sizes):
    check(student, reference, sizes)


@points(2)
@given(sizes=widths(min_layers=2, max_layers=2))
def test_two_layers(student, reference, sizes):
    check(student, reference, sizes)


@points(3)
@given(sizes=widths(min_layers=3, max_layers=8))
def test_deeper_networks(student, reference, sizes):
    check(student, reference, sizes)


@points(2)
@given(sizes=st.one_of(widths(min_layers=10, max_layers=30, max_width=4),
                       widths(min_layers=1, max_layers=3, max_width=10**6)))
def test_very_deep_or_very_wide_networks(student, reference, sizes):
    check(student, reference, sizes)


@points(1)
@given(sizes=widths(min_layers=1, max_layers=5))
def test_the_widths_are_left_unchanged(student, reference, sizes):
    result = call_pure(student.output_mean_var, sizes)
    mean, var = reference.output_mean_var(sizes)
    assert_close(tuple(result) if isinstance(result, list) else result, (mean, var), rtol=RTOL, atol=1e-12,
                 name=f"output_mean_var({sizes})")
