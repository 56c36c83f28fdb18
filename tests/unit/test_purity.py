"""call_pure's verdict: images of the arguments before and after a call, compared on the trusted side."""

import pytest
import torch

from grader import call_pure
from grader.purity import argument_images, changed_arguments, changed_part, image


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
    from grader import wire

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
