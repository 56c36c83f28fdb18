"""Tests for hw6/split_transform_merge: registered parameters, shapes, equality with the reference
module after exchanging state dicts in both directions, and the two parameter counts."""

import torch
from hypothesis import example, given
from hypothesis import strategies as st

from grader import assert_close, points, remote_type
from grader.strategies import seeds, tensor

NOT_REGISTERED = (
    "parameters of layers kept in a plain Python list (or dict) are not registered with the module, so "
    "model.parameters(), model.state_dict(), model.to(...) and optimizers do not see them: keep the "
    "branches in an nn.ModuleList"
)


def expected_count(channels: int, width: int, paths: int) -> int:
    return paths * (width * (channels + 1) + width * (9 * width + 1) + channels * (width + 1))


sizes = st.fixed_dictionaries({"channels": st.integers(1, 6), "width": st.integers(1, 3), "paths": st.integers(1, 3)})
SMALLEST = {"channels": 1, "width": 1, "paths": 1}  # every size 1: a single branch, a single channel


def build(student, size: dict):
    """By the keyword names of the contract, `STMConv(channels=..., width=..., paths=...)`."""
    return student.STMConv(channels=size["channels"], width=size["width"], paths=size["paths"])


def describe(size: dict) -> str:
    return f"STMConv(channels={size['channels']}, width={size['width']}, paths={size['paths']})"


def shorten(keys: list[str]) -> str:
    return str(keys[:4])[:-1] + ", ...]" if len(keys) > 4 else str(keys)


def state_dict_of(model, size: dict, reference_keys) -> dict:
    """The student's state dict, after checking that its keys are the ones the contract implies."""
    __tracebackhide__ = True
    state = model.state_dict()
    if not isinstance(state, dict):
        raise AssertionError(f"{describe(size)}.state_dict() did not return a dict of tensors")
    keys, wanted = set(state), set(reference_keys)
    if not keys:
        raise AssertionError(f"{describe(size)}.state_dict() is empty: {NOT_REGISTERED}")
    if keys != wanted:
        missing, extra = sorted(wanted - keys), sorted(keys - wanted)
        raise AssertionError(
            f"{describe(size)}.state_dict() has the wrong keys (missing {shorten(missing)}, unexpected "
            f"{shorten(extra)}): the branches must be "
            "`self.branches = nn.ModuleList([nn.Sequential(conv1, ReLU, conv2, ReLU, conv3, ReLU), ...])`"
        )
    return state


@points(1)
def test_params_plain(student):
    assert_close(student.PARAMS_PLAIN, 213504, name="PARAMS_PLAIN")


@points(1)
def test_params_stm(student):
    assert_close(student.PARAMS_STM, 78592, name="PARAMS_STM")


@points(2)
@given(size=sizes)
@example(size=SMALLEST)
def test_registered_parameter_count(student, size):
    if size == SMALLEST:  # the explicit example, so once in every run: the defaults of the contract
        default = sum(p.numel() for p in student.STMConv().parameters())
        assert default == 78592, (
            f"STMConv() has {default} registered parameters, expected 78592: the defaults are channels=256, "
            "width=4, paths=32, and every branch's parameters must be registered"
        )
    model = build(student, size)
    count = sum(p.numel() for p in model.parameters())
    want = expected_count(**size)
    if count == 0:
        raise AssertionError(f"{describe(size)} has no registered parameters (expected {want}): {NOT_REGISTERED}")
    assert count == want, (
        f"{describe(size)} has {count} registered parameters, expected {want} "
        f"(each of the {size['paths']} branches has its own three convolutions, all with biases)"
    )


@points(1)
@given(size=sizes, batch=st.integers(1, 2), height=st.integers(3, 6), width=st.integers(3, 6), seed=seeds())
def test_output_has_the_input_shape(student, size, batch, height, width, seed):
    size = {**size, "channels": size["channels"] + 2, "paths": size["paths"] + 1}
    x = tensor((batch, size["channels"], height, width), seed, scale=3.0)
    # A freshly initialized module can have all its ReLUs closed on x (then it outputs zeros), so a
    # zero output fails only if several independently initialized modules all give one.
    nonzero = False
    for _ in range(5):
        out = build(student, size)(x)
        if type(out) is not torch.Tensor:
            raise AssertionError(f"{describe(size)}(x) must return a tensor, got {remote_type(out)}")
        if out.shape != x.shape:
            hint = ""
            if out.shape[2:] != x.shape[2:]:
                hint = " (the 3x3 convolution needs padding=1 to keep the height and width)"
            raise AssertionError(
                f"{describe(size)}(x) has shape {tuple(out.shape)}, expected the input's shape {tuple(x.shape)}{hint}"
            )
        assert bool((out >= 0).all()), f"{describe(size)}(x) has negative entries, but it is a sum of ReLU outputs"
        nonzero = nonzero or bool((out != 0).any())
        if nonzero:
            break
    assert nonzero, f"{describe(size)}(x) is zero everywhere, for five freshly initialized modules"


@points(2)
@given(size=sizes, height=st.integers(3, 6), width=st.integers(3, 6), seed=seeds())
@example(size=SMALLEST, height=3, width=3, seed=0)
def test_reference_with_your_weights_gives_your_output(student, reference, size, height, width, seed):
    model = build(student, size)
    ref = reference.STMConv(size["channels"], size["width"], size["paths"]).double()
    state = state_dict_of(model, size, ref.state_dict().keys())
    ref.load_state_dict({k: v.double() for k, v in state.items()})
    x = tensor((2, size["channels"], height, width), seed)
    with torch.no_grad():
        expected = ref(x.double())
    assert_close(model(x), expected, dtype=torch.float32, name=f"{describe(size)}(x) with your own weights")


@points(2)
@given(size=sizes, height=st.integers(3, 6), width=st.integers(3, 6), seed=seeds())
def test_your_module_with_reference_weights_gives_the_reference_output(student, reference, size, height, width, seed):
    model = build(student, size)
    torch.manual_seed(seed)
    ref = reference.STMConv(size["channels"], size["width"], size["paths"])
    state_dict_of(model, size, ref.state_dict().keys())
    model.load_state_dict({k: v.clone() for k, v in ref.state_dict().items()})
    x = tensor((2, size["channels"], height, width), seed + 1)
    with torch.no_grad():
        expected = ref.double()(x.double())
    assert_close(model(x), expected, dtype=torch.float32, name=f"{describe(size)}(x) with the reference's weights")


@points(1)
@given(size=sizes)
def test_branches_are_a_module_list_of_conv_relu_sequences(student, size):
    model = build(student, size)
    branches = model.branches
    kind = remote_type(branches)
    assert kind.endswith(".ModuleList"), f"STMConv.branches must be an nn.ModuleList, got {kind}"
    n = len(branches)
    assert n == size["paths"], f"{describe(size)}.branches has {n} branches, expected {size['paths']}"
    branch = branches[0]
    layers = [remote_type(layer).rsplit(".", 1)[-1] for layer in branch]
    want = ["Conv2d", "ReLU", "Conv2d", "ReLU", "Conv2d", "ReLU"]
    assert layers == want, f"each branch must be nn.Sequential({', '.join(want)}), got {layers}"
    for i, (kernel, padding) in zip((0, 2, 4), (((1, 1), (0, 0)), ((3, 3), (1, 1)), ((1, 1), (0, 0)))):
        assert_close(branch[i].kernel_size, kernel, name=f"branches[0][{i}].kernel_size")
        assert_close(effective_padding(branch[i]), padding, name=f"branches[0][{i}].padding")


def effective_padding(conv):
    """The padding a convolution applies: `padding="same"` is 1 for a 3x3 kernel and `"valid"` is 0, as
    legitimate as writing the numbers."""
    padding = conv.padding
    if padding == "valid":
        return (0, 0)
    if padding == "same":
        return tuple(d * (k - 1) // 2 for k, d in zip(conv.kernel_size, conv.dilation))
    return padding
