"""Standard modules cross as data and are built again on the trusted side (grader.sandbox.rebuild)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from grader.sandbox import wire
from grader.sandbox.rebuild import KINDS, RebuildError, describe, is_standard, rebuild


def across_the_wire(module: nn.Module) -> nn.Module:
    """describe() in the sandbox, the wire both ways, rebuild() here."""
    tree, blobs = wire.encode_value(describe(module), lambda obj: pytest.fail(f"not plain data: {obj!r}"))
    return rebuild(wire.decode_value(tree, blobs))


def bn(cls: type[nn.Module], n: int, **kwargs: object) -> nn.Module:
    layer = cls(n, **kwargs)
    if layer.running_mean is not None:
        layer.running_mean.uniform_(-1, 1)
        layer.running_var.uniform_(0.5, 2)
    return layer.eval()


SAMPLES = [
    (nn.Linear(4, 3), (2, 4)),
    (nn.Linear(4, 3, bias=False).double(), (2, 4)),
    (nn.Conv1d(2, 3, 3, stride=2, padding=1, dilation=1, groups=1), (1, 2, 9)),
    (nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), dilation=2, groups=2, bias=False), (2, 4, 9, 8)),
    (nn.Conv2d(2, 2, 3, padding="same", padding_mode="reflect"), (1, 2, 5, 5)),
    (bn(nn.BatchNorm1d, 3, eps=1e-3, momentum=None), (4, 3)),
    (bn(nn.BatchNorm2d, 2, affine=False), (2, 2, 3, 3)),
    (bn(nn.BatchNorm2d, 2, track_running_stats=False), (2, 2, 3, 3)),
    (nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True), nn.Flatten(), nn.Linear(8, 3),
                   nn.LeakyReLU(0.3), nn.Dropout(0.5)).eval(), (2, 1, 6, 6)),
    (nn.Sequential(nn.AvgPool2d(2, stride=1, count_include_pad=False), nn.AdaptiveAvgPool2d((2, None)),
                   nn.Softplus(beta=2.0), nn.Hardtanh(-0.5, float("inf")), nn.GELU("tanh"), nn.Identity()), (1, 2, 5, 5)),
]


@pytest.mark.parametrize(("module", "shape"), SAMPLES, ids=lambda v: type(v).__name__ if isinstance(v, nn.Module) else "")
def test_a_standard_module_is_rebuilt_with_the_same_settings_tensors_and_outputs(module, shape):
    rebuilt = across_the_wire(module)
    assert type(rebuilt) is type(module) and repr(rebuilt) == repr(module)
    assert [(n, m.training) for n, m in rebuilt.named_modules()] == [(n, m.training) for n, m in module.named_modules()]
    before, after = module.state_dict(), rebuilt.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) and before[k].dtype == after[k].dtype for k in before)
    x = torch.randn(shape, dtype=next(module.parameters(), torch.zeros(())).dtype)
    torch.manual_seed(0)
    expected = module(x)
    torch.manual_seed(0)
    assert torch.equal(rebuilt(x), expected)


def test_containers_keep_their_names_and_modes():
    model = nn.Sequential()
    model.add_module("features", nn.Sequential(nn.Conv2d(1, 1, 1), nn.ReLU()))
    model.add_module("head", nn.ModuleList([nn.Linear(1, 1)]))
    model.features.train()
    model.head.eval()
    rebuilt = across_the_wire(model)
    assert [(n, m.training) for n, m in rebuilt.named_modules()] == [(n, m.training) for n, m in model.named_modules()]


def test_only_exact_kinds_cross_and_every_kind_can():
    class Mine(nn.Conv2d):
        pass

    assert not is_standard(Mine(1, 1, 1)) and not is_standard(torch.ones(1)) and is_standard(nn.Conv2d(1, 1, 1))
    for kind, (cls, _) in KINDS.items():
        assert cls.__name__ == kind


def test_hooks_and_extra_attributes_stay_behind():
    conv = nn.Conv2d(1, 1, 1)
    conv.register_forward_hook(lambda module, args, out: out * 0)
    conv.note = "anything"
    rebuilt = across_the_wire(conv)
    x = torch.ones(1, 1, 2, 2)
    assert not hasattr(rebuilt, "note") and torch.equal(rebuilt(x), torch.nn.functional.conv2d(x, conv.weight, conv.bias))


def described(module: nn.Module) -> dict:
    return describe(module)


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.update(kind="LSTM"), "LSTM is not a standard torch.nn module the grader can rebuild"),
    (lambda d: d.update(kind="bn_fold.Conv2d"), "bn_fold.Conv2d is not a standard torch.nn module"),
    (lambda d: d["parameters"].update(weight=torch.zeros(3)), "Conv2d.weight has shape (3,), but the settings of the Conv2d give (2, 1, 3, 3)"),
    (lambda d: d["parameters"].update(bias=None), "Conv2d.bias must be a tensor for these settings"),
    (lambda d: d["parameters"].pop("bias"), "a Conv2d has the parameters ['bias', 'weight'], but the sent ones are ['weight']"),
    (lambda d: d["config"].update(groups="two"), "groups='two', bias=True, padding_mode='zeros') cannot be made: TypeError"),
    (lambda d: d["config"].update(stride=[1] * 100), "Conv2d.stride ="),
    (lambda d: d["config"].pop("padding_mode"), "the description of a Conv2d has the settings"),
    (lambda d: d.update(training="yes"), "does not say whether it is in training mode"),
    (lambda d: d["children"].append(["0", {}]), "a Conv2d has no submodules"),
    (lambda d: d["config"].update(in_channels=10**9, out_channels=10**9), "10000000"),
])
def test_a_description_that_does_not_fit_is_refused_plainly(change, message):
    description = described(nn.Conv2d(1, 2, 3))
    change(description)
    with pytest.raises(RebuildError) as info:
        rebuild(description)
    assert message in str(info.value)


def test_claimed_sizes_allocate_nothing_before_the_tensors_are_checked():
    description = described(nn.Linear(2, 2))
    description["config"].update(in_features=2**30, out_features=2**30)  # 4 EiB if it were allocated
    with pytest.raises(RebuildError, match="Linear.weight has shape"):
        rebuild(description)


def test_a_container_names_the_child_that_does_not_fit():
    description = described(nn.Sequential(nn.ReLU(), nn.Linear(2, 2)))
    description["children"][1][1]["parameters"]["weight"] = torch.zeros(5)
    with pytest.raises(RebuildError, match=r"^Sequential\[1\]: Linear.weight has shape \(5,\)"):
        rebuild(description)
