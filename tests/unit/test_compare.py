"""assert_close: the order of checks and the exact messages students read."""

import math

import pytest
import torch

from grader import assert_close


def message(actual, expected, **kw):
    with pytest.raises(AssertionError) as info:
        assert_close(actual, expected, **kw)
    return str(info.value)


def test_passes_a_float32_result_against_a_float64_expectation():
    x = torch.randn(50, 50, dtype=torch.float64)
    expected = x @ x.T
    actual = torch.einsum("ik,jk->ij", x.float(), x.float())
    assert_close(actual, expected, dtype=torch.float32)


def test_type_first():
    assert message(3.0, torch.ones(2)) == "result: expected a tensor, got the float 3.0"


def test_shape_without_broadcasting():
    got = message(torch.zeros(3, 1), torch.zeros(3), name="nu(x)")
    assert got == "nu(x): the shape does not match: expected (3,), got (3, 1)"


def test_dtype():
    got = message(torch.zeros(3, dtype=torch.float64), torch.zeros(3), dtype=torch.float32)
    assert got == "result: the dtype does not match: expected torch.float32, got torch.float64"


def test_nan_where_finite_expected():
    got = message(torch.tensor([1.0, math.nan]), torch.tensor([1.0, 2.0]))
    assert got == (
        "result: 1 / 2 values are NaN where finite values were expected\n"
        "First at index (1,): expected 2, got nan"
    )


def test_nan_never_equals_nan():
    with pytest.raises(AssertionError):
        assert_close(torch.tensor([math.nan]), torch.tensor([math.nan]))
    assert_close(torch.tensor([math.nan]), torch.tensor([math.nan]), equal_nan=True)


def test_value_mismatch_reports_count_greatest_differences_and_values():
    got = message(torch.tensor([1.0, 2.0, 3.5]), torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64), dtype=torch.float32)
    assert got == (
        "result: values are not close\n"
        "Mismatched elements: 1 / 3 (33.3%)\n"
        "Greatest absolute difference: 0.5 at index (2,) (up to 3e-05 allowed)\n"
        "Greatest relative difference: 0.166667 at index (2,) (up to 0.0001 allowed)\n"
        "At index (2,): expected 3, got 3.5"
    )


def test_path_into_nested_outputs():
    actual = ([torch.zeros(2)], {"w": torch.ones(2)})
    expected = ([torch.zeros(2)], {"w": torch.zeros(2)})
    assert message(actual, expected, name="grads").startswith("grads[1]['w']: values are not close")
    assert message((torch.zeros(1),), (torch.zeros(1), torch.zeros(1))) == "result: expected length 2, got length 1"
    assert message([1], (1,)) == "result: expected a tuple of length 1, got a list"


def test_python_scalars():
    assert message(1, True) == "result: expected a bool (True), got the int 1"
    assert message(5, 4) == "result: expected 4, got 5 (off by 1)"
    assert message(torch.tensor(4), 4) == "result: expected an int (4), got a tensor of shape () and dtype torch.int64"
    assert_close(0.1 + 0.2, 0.3)


def test_zeros_fail():
    with pytest.raises(AssertionError, match="values are not close"):
        assert_close(torch.zeros(5), torch.randn(5, dtype=torch.float64), dtype=torch.float32)


def test_tolerance_scales_with_the_size_of_the_values():
    expected = torch.tensor([1e6, 1.0], dtype=torch.float64)
    assert_close(torch.tensor([1e6, 1.0 + 1.0], dtype=torch.float32), expected, dtype=torch.float32)
    with pytest.raises(AssertionError):
        assert_close(torch.tensor([1e6, 1.0 + 100.0]), expected, dtype=torch.float32)


def test_a_value_that_breaks_the_comparison_is_the_students_failure():
    # A Python int too large for a float: converting it raises OverflowError inside the comparison.
    got = message(10**400, 1.5, name="nu(x)")
    assert got.startswith("nu(x): what was returned could not be compared with the expected value (OverflowError: ")
    assert "; expected the float 1.5, got the int 1000" in got


def test_an_expected_value_that_cannot_be_compared_stays_a_grader_error():
    class Broken:
        def __eq__(self, other):
            raise ValueError("the bank's own object")

    with pytest.raises(ValueError, match="the bank's own object"):
        assert_close(Broken(), Broken())
