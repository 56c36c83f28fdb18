"""Tests for hw6/dropout_order: the table for the seed's three activations, and the numerical decision
on many activation modules (including ones that look linear near 0 but saturate further out)."""

from hypothesis import example, given
from hypothesis import strategies as st
from torch import nn

from grader import assert_close, call_pure, points

# Each case is (activation module, whether it commutes with dropout), the latter known analytically:
# it commutes iff sigma(c z) = c sigma(z) for all z, where c = 1/(1-p) (which forces sigma(0) = 0).
slopes = st.floats(-3.0, 3.0).map(lambda v: round(v, 3))
bounds = st.floats(1.0, 90.0).map(lambda v: round(v, 2))
thresholds = st.floats(0.5, 5.0).map(lambda v: round(v, 3))
rates = st.floats(0.05, 0.95).map(lambda v: round(v, 3))

commuting = st.one_of(
    st.just(nn.ReLU()).map(lambda m: (m, True)),
    slopes.map(lambda s: (nn.LeakyReLU(s), True)),
    st.just(nn.Identity()).map(lambda m: (m, True)),
)
smooth = st.sampled_from([
    nn.Sigmoid, nn.Tanh, nn.ELU, nn.Softplus, nn.GELU, nn.SiLU, nn.Softsign, nn.SELU, nn.CELU, nn.Mish,
    nn.LogSigmoid, nn.Tanhshrink,
]).map(lambda cls: (cls(), False))
# Clips beyond 100 but below 99 c, where c = 1/(1-p) >= 1/0.95 for every rate: such a Hardtanh is the
# identity on [-100, 100], yet sigma(c z) is clipped for every z in (bound / c, 100], an interval at
# least 1.2 long. Only a probe that evaluates sigma at c z itself, with c > 1, past 100 sees it: one
# that keeps c z inside [-100, 100], or scales by 1 - p (or anything below 1), answers True.
far_bounds = st.floats(100.5, 104.0).map(lambda v: round(v, 2))
saturating = st.one_of(
    st.just(nn.ReLU6()).map(lambda m: (m, False)),
    st.tuples(bounds, bounds).map(lambda ab: (nn.Hardtanh(-ab[0], ab[1]), False)),
    st.tuples(far_bounds, far_bounds).map(lambda ab: (nn.Hardtanh(-ab[0], ab[1]), False)),
    thresholds.map(lambda t: (nn.Hardshrink(t), False)),
    thresholds.map(lambda t: (nn.Threshold(t, 0.0), False)),
    thresholds.map(lambda t: (nn.Softshrink(t), False)),
    st.sampled_from([nn.Hardsigmoid, nn.Hardswish]).map(lambda cls: (cls(), False)),
)
piecewise_linear_commuting = st.one_of(
    st.just((nn.Threshold(0.0, 0.0), True)),
    st.just((nn.Hardshrink(0.0), True)),
    st.just((nn.Softshrink(0.0), True)),
    slopes.map(lambda s: (nn.LeakyReLU(s), True)),
)


def decide(student, case, p: float, *, pure: bool = False) -> None:
    __tracebackhide__ = True
    sigma, commutes = case
    call = (lambda *args: call_pure(student.commutes_with_dropout, *args)) if pure else student.commutes_with_dropout
    result = call(sigma, p)
    assert_close(result, commutes, name=f"commutes_with_dropout({sigma}, p={p})")


@points(2)
def test_table_for_relu_sigmoid_and_leaky_relu(student):
    expected = {"relu": True, "sigmoid": False, "leaky_relu": True}
    assert_close(student.COMMUTES, expected, name="COMMUTES")


@points(3)
@given(case=st.one_of(commuting, smooth), p=rates)
def test_decides_common_activations(student, case, p):
    decide(student, case, p)


@points(3)
@given(case=st.one_of(saturating, piecewise_linear_commuting), p=rates)
@example(case=(nn.Hardtanh(-150.0, 150.0), False), p=0.5)  # every run: c = 2, sigma(c z) clips for z in (75, 100]
def test_decides_activations_that_look_linear_near_zero(student, case, p):
    decide(student, case, p)


@points(1)
@given(case=st.one_of(commuting, smooth, saturating, piecewise_linear_commuting), p=st.sampled_from([0.05, 0.95]))
def test_decides_at_extreme_dropout_rates(student, case, p):
    decide(student, case, p, pure=True)  # and sigma is left unchanged


injective_commuting = st.one_of(
    st.just(nn.Identity()),
    st.floats(0.01, 3.0).map(lambda s: nn.LeakyReLU(round(s, 3))),
)
strictly_monotone = st.sampled_from([nn.Tanh, nn.Sigmoid, nn.Softplus, nn.Softsign]).map(lambda cls: cls())


@st.composite
def compositions(draw):
    """Two activations in a row, chosen so that the answer is known: homogeneous after homogeneous
    commutes; a strictly monotone smooth function after a homogeneous one does not; and an injective
    homogeneous function after a non-commuting one does not either."""
    kind = draw(st.sampled_from(["both commute", "smooth second", "commuting second"]))
    if kind == "both commute":
        return nn.Sequential(draw(commuting)[0], draw(commuting)[0]), True
    if kind == "smooth second":
        return nn.Sequential(draw(commuting)[0], draw(strictly_monotone)), False
    return nn.Sequential(draw(st.one_of(smooth, saturating))[0], draw(injective_commuting)), False


@points(1)
@given(case=compositions(), p=rates)
def test_decides_compositions_of_activations(student, case, p):
    decide(student, case, p)
