"""Tests for hw5/bottleneck: the counts (formulas, real nn.Conv2d parameter counts, the seed's figures)
and the two blocks, judged by behaviour: output shapes, registered parameters, and outputs equal to
the blocks of the statement once the student's parameters hold weights chosen here."""

import itertools
from collections import Counter

import torch
import torch.nn.functional as F
from hypothesis import example, given, note
from hypothesis import strategies as st
from torch import nn

from grader import assert_close, call_pure, points, remote_type
from grader.strategies import seeds, tensor

kernels = st.sampled_from([1, 3, 5, 7])
channels = st.integers(1, 512)
sides = st.integers(1, 64)

# Each block as its branches, in concatenation order: a label and the (k, c_in, c_out) convolutions
# of the branch, each followed by a ReLU.
def naive_branches(c: int) -> list[tuple[str, list[tuple[int, int, int]]]]:
    return [
        ("the 1x1 branch", [(1, c, 124)]),
        ("the 3x3 branch", [(3, c, 192)]),
        ("the 5x5 branch", [(5, c, 96)]),
    ]


def bottleneck_branches(c: int) -> list[tuple[str, list[tuple[int, int, int]]]]:
    return [
        ("the 1x1 branch", [(1, c, 124)]),
        ("the 1x1-then-3x3 branch", [(1, c, 64), (3, 64, 192)]),
        ("the 1x1-then-5x5 branch", [(1, c, 64), (5, 64, 96)]),
        ("the fourth branch, a 1x1 convolution", [(1, c, 64)]),
    ]


BLOCKS = {"naive": naive_branches, "bottleneck": bottleneck_branches}
OUT_CHANNELS = {"naive": 412, "bottleneck": 476}


def layers_of(kind: str, c: int) -> list[tuple[int, int, int]]:
    return [conv for _, convs in BLOCKS[kind](c) for conv in convs]


SEED_LAYERS = {kind: layers_of(kind, 256) for kind in BLOCKS}
SEED_FIGURES = {
    "naive": {"params": 1_088_924, "additions": 1_114_636_288, "multiplications": 1_114_636_288,
              "activations": 421_888},
    "bottleneck": {"params": 345_692, "additions": 353_370_112, "multiplications": 353_370_112,
                   "activations": 618_496},
}


def real_conv_params(k: int, c_in: int, c_out: int) -> int:
    """The parameters of a real nn.Conv2d, built on the meta device (no memory, no initialization)."""
    conv = nn.Conv2d(c_in, c_out, k, padding=k // 2, device="meta")
    return sum(p.numel() for p in conv.parameters())


# --- counting -----------------------------------------------------------------------------------


@points(1)
@given(k=kernels, c_in=channels, c_out=channels)
@example(k=1, c_in=1, c_out=1)
@example(k=3, c_in=256, c_out=192)  # the seed's 442,560
@example(k=5, c_in=64, c_out=96)  # the seed's 153,696
def test_conv_params(student, k, c_in, c_out):
    assert_close(student.conv_params(k, c_in, c_out), real_conv_params(k, c_in, c_out),
                 name=f"conv_params({k}, {c_in}, {c_out})")


@points(1)
@given(k=kernels, c_in=channels, c_out=channels, h=sides, w=sides)
@example(k=1, c_in=1, c_out=1, h=1, w=1)
@example(k=7, c_in=1, c_out=1, h=1, w=1)  # a kernel larger than the map: padding keeps every position
@example(k=5, c_in=256, c_out=96, h=32, w=32)  # the seed's (629145600, 629145600, 98304)
@example(k=3, c_in=5, c_out=2, h=4, w=9)  # h != w
def test_conv_ops(student, reference, k, c_in, c_out, h, w):
    assert_close(student.conv_ops(k, c_in, c_out, h, w), reference.conv_ops(k, c_in, c_out, h, w),
                 name=f"conv_ops({k}, {c_in}, {c_out}, {h}, {w})")


layer_lists = st.lists(st.tuples(kernels, channels, channels), min_size=1, max_size=6)


@points(1)
@given(layers=layer_lists, h=sides, w=sides)
@example(layers=[(1, 1, 1)], h=1, w=1)
@example(layers=[(1, 3, 2), (3, 2, 4), (1, 3, 2)], h=2, w=5)  # a repeated layer counts twice
def test_block_counts(student, reference, layers, h, w):
    assert_close(call_pure(student.block_counts, layers, h, w), reference.block_counts(layers, h, w),
                 name=f"block_counts({layers}, {h}, {w})")


@points(1)
def test_the_seed_figures(student):
    for kind in BLOCKS:
        # The parameter figures agree with real nn.Conv2d layers (a check of this test's constants).
        assert sum(real_conv_params(*conv) for conv in SEED_LAYERS[kind]) == SEED_FIGURES[kind]["params"]
        assert_close(student.block_counts(SEED_LAYERS[kind], 32, 32), SEED_FIGURES[kind],
                     name=f"block_counts({SEED_LAYERS[kind]}, 32, 32) (the {kind} block)")


# --- the blocks ---------------------------------------------------------------------------------


def forward(model, x: torch.Tensor, call: str) -> torch.Tensor:
    """The model's output on x, after checking that it is a tensor of the block's shape."""
    __tracebackhide__ = True
    out = call_pure(model, x)
    if type(out) is not torch.Tensor:
        raise AssertionError(f"{call} must return a tensor, got {remote_type(out)}")
    return out


def check_shape(out: torch.Tensor, want: tuple[int, ...], call: str) -> None:
    __tracebackhide__ = True
    if tuple(out.shape) != want:
        hint = ""
        if tuple(out.shape[2:]) != want[2:]:
            hint = " (a k x k convolution needs padding k // 2 to keep the height and width)"
        elif out.shape[1] != want[1]:
            hint = " (the branches' channels add up to the output's: check each branch's width)"
        raise AssertionError(f"{call} has shape {tuple(out.shape)}, expected {want}{hint}")


def check_output(model, x: torch.Tensor, want: tuple[int, ...], call: str) -> torch.Tensor:
    """The output on x, checked for what holds whatever the weights: shape, ReLU outputs, a function of x
    (the same x gives the same output, another x another one)."""
    __tracebackhide__ = True
    out = forward(model, x, call)
    check_shape(out, want, call)
    assert bool((out >= 0).all()), f"{call} has negative entries, but every branch ends with a ReLU"
    # All of a freshly initialized block's ReLUs closed at once is practically impossible (412 or more).
    assert bool((out > 0).any()), f"{call} is zero everywhere"
    again = forward(model, x, call)
    assert bool(torch.equal(again, out)), f"{call} gives another output when called again on the same x"
    other = forward(model, -2 * x - 1, call)
    assert not bool(torch.equal(other, out)), f"{call} gives the same output for another x (-2x - 1)"
    return out


def parameter_count(model) -> int:
    return sum(p.numel() for p in model.parameters())


@points(1)
def test_the_default_blocks(student):
    x = tensor((1, 256, 32, 32), 0)
    for kind in BLOCKS:
        model = getattr(student, f"{kind}_block")()
        count, want = parameter_count(model), SEED_FIGURES[kind]["params"]
        assert count == want, f"{kind}_block() has {count:,} registered parameters, expected {want:,} (the seed's figure)"
        check_output(model, x, (1, OUT_CHANNELS[kind], 32, 32), f"{kind}_block()(x) with x of shape (1, 256, 32, 32)")


@points(1)
@given(c_in=st.integers(1, 8), batch=st.integers(1, 2), h=st.integers(1, 7), w=st.integers(1, 7), seed=seeds())
@example(c_in=1, batch=1, h=1, w=1, seed=0)
def test_output_shape(student, c_in, batch, h, w, seed):
    x = tensor((batch, c_in, h, w), seed)
    for kind in BLOCKS:
        call = f"{kind}_block({c_in})(x) with x of shape {tuple(x.shape)}"
        check_output(getattr(student, f"{kind}_block")(c_in), x, (batch, OUT_CHANNELS[kind], h, w), call)


@points(1)
@given(c_in=st.integers(1, 64))
@example(c_in=1)
def test_registered_parameter_count(student, c_in):
    for kind in BLOCKS:
        model = getattr(student, f"{kind}_block")(c_in=c_in)
        count = parameter_count(model)
        want = sum(real_conv_params(*conv) for conv in layers_of(kind, c_in))
        if count != want:
            hint = "check each convolution's kernel size, c_in and c_out against the statement"
            if count < want:
                hint = (
                    "every convolution of the statement needs its own weight and bias, kept in the module's "
                    "attributes (or in nn.ModuleList, nn.Sequential, ...) so that model.parameters() sees it"
                )
            raise AssertionError(
                f"{kind}_block(c_in={c_in}) has {count:,} registered parameters, expected {want:,}: {hint}"
            )


def shape_list(shapes: list[tuple[int, ...]]) -> str:
    return ", ".join(str(list(s)) for s in sorted(shapes, key=lambda s: (len(s), s)))


def own_parameters(model, call: str, branches) -> list[tuple[str, torch.Tensor]]:
    """The student's named parameters, after checking that they are the convolutions' weights and biases."""
    __tracebackhide__ = True
    named = [(name, p) for name, p in model.named_parameters()]
    have = Counter(tuple(p.shape) for _, p in named)
    convs = [conv for _, layers in branches for conv in layers]
    want = Counter([(c_out, c_in, k, k) for k, c_in, c_out in convs] + [(c_out,) for _, _, c_out in convs])
    if have != want:
        missing, unexpected = list((want - have).elements()), list((have - want).elements())
        parts = [f"missing {shape_list(missing)}"] if missing else []
        parts += [f"unexpected {shape_list(unexpected)}"] if unexpected else []
        raise AssertionError(
            f"{call}'s registered parameters do not have the shapes of the block's weights and biases "
            f"({'; '.join(parts)}): each convolution of the statement needs its own weight [c_out, c_in, k, k] "
            "and bias [c_out], as nn.Conv2d holds them, and the block has no other parameters"
        )
    return named


def run_branch(x: torch.Tensor, layers: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    for weight, bias in layers:
        x = F.relu(F.conv2d(x, weight, bias, padding=weight.shape[-1] // 2))
    return x


def matches(actual: torch.Tensor, expected: torch.Tensor) -> bool:
    try:
        assert_close(actual, expected, dtype=torch.float32)
    except AssertionError:
        return False
    return True


def check_block(student, kind: str, c_in: int, h: int, w: int, seed: int) -> None:
    """Fills the student's parameters with known weights (by shape: names and order are the student's),
    then compares each branch's channels with that branch computed here, in float64.

    Convolutions of one shape (the bottleneck's three 1x1 c_in -> 64) could sit in any attribute, so a
    branch may take any of them: the block passes if some assignment of distinct parameters to the
    convolutions reproduces every branch.
    """
    __tracebackhide__ = True
    branches = BLOCKS[kind](c_in)
    call = f"{kind}_block({c_in})"
    model = getattr(student, f"{kind}_block")(c_in)
    second = getattr(student, f"{kind}_block")(c_in)  # must be another module: it keeps its own weights
    named = own_parameters(model, call, branches)
    g = torch.Generator().manual_seed(seed)
    values: dict[str, torch.Tensor] = {}
    for name, p in named:
        if p.dim() == 4:  # variance 1 / fan-in, so that every layer's output is of order one
            bound = (3.0 / (p.shape[1] * p.shape[2] * p.shape[3])) ** 0.5
        else:  # biases large enough that the ReLUs are open at some positions and closed at others
            bound = 0.5
        values[name] = ((torch.rand(p.shape, generator=g, dtype=torch.float64) * 2 - 1) * bound).float()
    model.load_state_dict(values, strict=False)
    x = tensor((2, c_in, h, w), seed + 1)
    call = f"{call}(x) with your parameters set to known weights, x of shape {tuple(x.shape)}"
    out = forward(model, x, call)
    check_shape(out, (2, OUT_CHANNELS[kind], h, w), call)
    if bool(torch.equal(forward(second, x, call), out)):
        raise AssertionError(
            f"{kind}_block({c_in}) called twice gave modules that share their weights: setting the first "
            "one's weights changed the second one's output (each call must build a new module)"
        )

    by_shape: dict[tuple[int, ...], list[str]] = {}
    for name, p in named:
        by_shape.setdefault(tuple(p.shape), []).append(name)
    x64 = x.double()
    found: list[list[tuple[str, ...]]] = []  # per branch, the assignments (parameter names) that reproduce it
    start = 0
    for label, layers in branches:
        stop = start + layers[-1][2]
        actual = out[:, start:stop]
        options = [itertools.product(by_shape[(c_out, ci, k, k)], by_shape[(c_out,)]) for k, ci, c_out in layers]
        good, closest = [], None
        for assignment in itertools.product(*options):
            expected = run_branch(x64, [(values[wn].double(), values[bn].double()) for wn, bn in assignment])
            if matches(actual, expected):
                good.append(tuple(n for pair in assignment for n in pair))
            gap = float((actual.double() - expected).abs().max())
            if closest is None or gap < closest[0]:
                closest = (gap, expected)
        if not good:
            order = ", ".join(f"{name} ({convs[-1][2]} channels)" for name, convs in branches)
            note(f"the branches, concatenated in this order: {order}; (k, c_in, c_out) of {label}: {layers}")
            assert_close(actual, closest[1], dtype=torch.float32,
                         name=f"channels {start}:{stop} ({label}) of {call}")
        found.append(good)
        start = stop
    for choice in itertools.product(*found):
        used = [name for names in choice for name in names]
        if len(used) == len(set(used)):
            return
    raise AssertionError(
        f"{call}: every branch is right on its own, but only if two branches use the same convolution's "
        "weight or bias; each convolution of the statement needs its own (is one layer called twice?)"
    )


@points(1)
@given(c_in=st.integers(1, 8), h=st.integers(1, 6), w=st.integers(1, 6), seed=seeds())
@example(c_in=1, h=1, w=1, seed=0)
@example(c_in=3, h=5, w=6, seed=1)  # every tap of the 5x5 kernel meets the map
def test_naive_block_computes_the_naive_block(student, c_in, h, w, seed):
    check_block(student, "naive", c_in, h, w, seed)


@points(2)
@given(c_in=st.integers(1, 8), h=st.integers(1, 6), w=st.integers(1, 6), seed=seeds())
@example(c_in=1, h=1, w=1, seed=0)
@example(c_in=3, h=5, w=6, seed=1)
def test_bottleneck_block_computes_the_bottleneck_block(student, c_in, h, w, seed):
    check_block(student, "bottleneck", c_in, h, w, seed)
