"""call_pure's verdict: images of the arguments before and after a call, compared on the trusted side."""

import pytest
import torch

from grader import call_pure
from grader.sandbox.purity import argument_images, changed_arguments, changed_part, image


def scale_(x, *, by=2.0):
    x.mul_(by)
    return x


def retrain(layer):
    layer.train()
    return layer.weight.sum()


def pure(x, pair):
    return x * 2 + pair[0]


def test_plain_functions_that_modify_arguments_fail_with_the_argument_named():
    with pytest.raises(AssertionError, match="scale_ modified its argument 1 in place"):
        call_pure(scale_, torch.ones(3))
    with pytest.raises(AssertionError, match=r"retrain modified its argument 1 \(train/eval mode of the module\)"):
        call_pure(retrain, torch.nn.Linear(2, 2).eval())


def test_plain_pure_functions_return_their_value():
    assert torch.equal(call_pure(pure, torch.ones(2), (torch.ones(2), 0)), torch.full((2,), 3.0))


def test_nested_and_keyword_arguments_are_located():
    x = torch.zeros(2)
    pair = [torch.ones(1), x]
    kwargs = {"w": torch.ones(1)}
    before = argument_images((pair,), kwargs)
    x += 1
    assert changed_arguments(before, argument_images((pair,), kwargs), kwargs) == ["argument 1[1]"]
    same = torch.full((2,), float("nan"))  # NaN is not equal to itself, but NaN left alone is no change
    snap = argument_images((same,), {})
    assert changed_arguments(snap, argument_images((same,), {})) == []
    w = torch.ones(1)
    snap = argument_images((), {"w": w})
    w.zero_()
    assert changed_arguments(snap, argument_images((), {"w": w}), {"w": w}) == ["argument 'w'"]


def test_images_are_plain_data_that_cross_the_wire():
    from grader.sandbox import wire

    layer = torch.nn.BatchNorm1d(3)
    value = [(torch.ones(2), {"k": layer}), 7]
    tree, blobs = wire.encode_value(image(value), lambda obj: pytest.fail(f"not plain data: {obj!r}"))
    assert changed_part(image(value), wire.decode_value(tree, blobs)) is None
    layer.eval()
    tree, blobs = wire.encode_value(image(value), lambda obj: pytest.fail(f"not plain data: {obj!r}"))
    assert changed_part(image([(torch.ones(2), {"k": torch.nn.BatchNorm1d(3)}), 7]), wire.decode_value(tree, blobs)) == (
        "[0][1]['k'] (train/eval mode of the module)"
    )


@pytest.mark.parametrize("after", [None, [], [("other",)], [("tensor", "not a tensor")], [("module", 1, 2)], "junk"])
def test_an_account_that_is_not_a_well_formed_image_is_refused(after):
    before = argument_images((torch.ones(2),), {})
    with pytest.raises(ValueError):
        changed_arguments(before, after)


def test_what_the_trusted_side_cannot_check_is_not_held_against_the_call():
    before = [("other",)]  # an object of the student's, passed back: only the sandbox holds it
    assert changed_arguments(before, [("tensor", torch.ones(1))]) == []


def reverse_(widths):
    widths.reverse()
    return len(widths)


def replace_first(config):
    config["sizes"][0] = 3.5
    return 0


def test_numbers_and_strings_inside_containers_are_imaged():
    with pytest.raises(AssertionError, match=r"reverse_ modified its argument 1\[0\] in place"):
        call_pure(reverse_, [4, 2, 1])
    with pytest.raises(AssertionError, match=r"replace_first modified its argument 1\['sizes'\]\[0\]"):
        call_pure(replace_first, {"sizes": [1.0, 2.0], "name": "x"})
    assert call_pure(reverse_, [1]) == 1  # a list of one reversed is the same list
    nan = [float("nan"), True, "s"]
    assert changed_arguments(argument_images((nan,), {}), argument_images((nan,), {})) == []
    assert changed_part(image([1]), ("seq", "list", (("scalar", "int", "2"),))) == "[0]"
    with pytest.raises(ValueError):
        changed_part(image([1]), ("seq", "list", (("scalar", "int"),)))


def test_call_pure_refuses_what_is_not_callable():
    with pytest.raises(TypeError, match="takes a function"):
        call_pure(3, 1)


def _record(module, args, output):
    return None


def leave_hooks(model):
    for layer in model:
        layer.register_forward_hook(_record)
    model[0].register_forward_pre_hook(lambda module, args: None)
    return 0


def hook_and_remove(model):
    handles = [layer.register_forward_hook(_record) for layer in model]
    handles.append(model.register_full_backward_hook(lambda module, gin, gout: None))
    model(torch.zeros(1, 2, requires_grad=True)).sum().backward()
    for handle in handles:
        handle.remove()
    return 0


def test_hooks_left_registered_on_a_module_are_counted():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1))
    assert image(model)[3] == (0, 0, 0)
    assert call_pure(hook_and_remove, model) == 0  # hooks registered, then removed: the model is unchanged
    with pytest.raises(
        AssertionError,
        match=r"leave_hooks modified its argument 1 \(left 3 forward hooks and 1 forward-pre hook registered on it\)",
    ):
        call_pure(leave_hooks, model)
    before = image([model])
    model.register_full_backward_hook(lambda module, gin, gout: None)
    assert changed_part(before, image([model])) == "[0] (left 1 backward hook registered on it)"
    assert changed_part(image([model]), before) == "[0] (removed hooks that were registered on it)"


def test_hook_counts_cross_the_wire_and_malformed_counts_are_refused():
    from grader.sandbox import wire

    model = torch.nn.Sequential(torch.nn.Linear(2, 2))
    before = image(model)
    model[0].register_forward_hook(_record)
    tree, blobs = wire.encode_value(image(model), lambda obj: pytest.fail(f"not plain data: {obj!r}"))
    assert changed_part(before, wire.decode_value(tree, blobs)) == " (left 1 forward hook registered on it)"
    for counts in [None, (1, 0), (1.0, 0, 0), ("1", 0, 0)]:
        with pytest.raises(ValueError):
            changed_part(before, (*before[:3], counts))
    with pytest.raises(ValueError):
        changed_part(before, before[:3])
