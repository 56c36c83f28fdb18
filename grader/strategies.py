"""Hypothesis strategies for writing problems: layer configurations, BatchNorm statistics, tensors.

Strategies draw small, readable descriptions (frozen dataclasses and seeds), and helpers build the
modules and tensors from them, so that a failing test's smallest input prints as something a
student can reproduce: ``Conv2dConfig(in_channels=2, out_channels=1, kernel_size=(1, 3), ...)``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from hypothesis import strategies as st

FLOAT_DTYPES = (torch.float32, torch.float64)


def dtypes() -> st.SearchStrategy[torch.dtype]:
    """float32 or float64: the dtypes problems are graded on."""
    return st.sampled_from(FLOAT_DTYPES)


def seeds() -> st.SearchStrategy[int]:
    """A seed for :func:`tensor`: tensors are built from seeds so failures print compactly."""
    return st.integers(min_value=0, max_value=2**16)


@contextlib.contextmanager
def initialised_from(seed: int) -> Iterator[None]:
    """Inside, torch's default generator starts from `seed`, so modules built there get their default
    initialisation from it; after, the generator is back as it was. torch.nn modules draw their
    initial weights from the default generator only: this keeps those draws local to the block, and
    the test's own draws (or another strategy's) never depend on which modules were built before."""
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        yield


def tensor(
    shape: tuple[int, ...], seed: int, *, dtype: torch.dtype = torch.float32, scale: float = 1.0
) -> torch.Tensor:
    """A standard-normal tensor (times `scale`) determined by `seed`."""
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=g, dtype=torch.float64) * scale).to(dtype)


@dataclass(frozen=True)
class Conv2dConfig:
    """A 2-d convolution and an input size for which its output is non-empty."""

    in_channels: int
    out_channels: int
    kernel_size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    groups: int
    bias: bool
    batch: int
    height: int
    width: int

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        return (self.batch, self.in_channels, self.height, self.width)

    def output_size(self) -> tuple[int, int]:
        return tuple(  # type: ignore[return-value]
            (size + 2 * p - d * (k - 1) - 1) // s + 1
            for size, k, s, p, d in zip(
                (self.height, self.width), self.kernel_size, self.stride, self.padding, self.dilation
            )
        )

    def make(self, seed: int, dtype: torch.dtype = torch.float32) -> torch.nn.Conv2d:
        """The convolution with weights drawn from `seed`."""
        with initialised_from(seed):
            conv = torch.nn.Conv2d(
                self.in_channels,
                self.out_channels,
                self.kernel_size,
                stride=self.stride,
                padding=self.padding,
                dilation=self.dilation,
                groups=self.groups,
                bias=self.bias,
            )
        return conv.to(dtype)


@st.composite
def conv2d_configs(
    draw: st.DrawFn,
    *,
    max_channels: int = 4,
    max_kernel: int = 4,
    max_stride: int = 3,
    max_padding: int = 2,
    max_dilation: int = 2,
    groups: bool = True,
    max_batch: int = 3,
    max_size: int = 9,
) -> Conv2dConfig:
    """Convolutions with non-square kernels, strides, padding, dilation and groups, and a valid input."""
    n_groups = draw(st.integers(1, 2)) if groups else 1
    in_channels = n_groups * draw(st.integers(1, max(1, max_channels // n_groups)))
    out_channels = n_groups * draw(st.integers(1, max(1, max_channels // n_groups)))
    pair = lambda lo, hi: st.tuples(st.integers(lo, hi), st.integers(lo, hi))  # noqa: E731
    kernel = draw(pair(1, max_kernel))
    stride = draw(pair(1, max_stride))
    padding = draw(pair(0, max_padding))
    dilation = draw(pair(1, max_dilation))
    sizes = []
    for k, p, d in zip(kernel, padding, dilation):
        smallest = max(1, d * (k - 1) + 1 - 2 * p)
        sizes.append(draw(st.integers(smallest, max(smallest, max_size))))
    return Conv2dConfig(
        in_channels=in_channels,
        out_channels=out_channels,
        kernel_size=kernel,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=n_groups,
        bias=draw(st.booleans()),
        batch=draw(st.integers(1, max_batch)),
        height=sizes[0],
        width=sizes[1],
    )


@dataclass(frozen=True)
class BatchNormStats:
    """Running statistics and affine parameters of a BatchNorm layer, drawn from a seed.

    Running variances are log-uniform over `var_range` (tiny and large), and eps too, so that
    forgetting eps or using the variance for the standard deviation is caught.
    """

    num_features: int
    eps: float
    affine: bool
    log_var_low: float
    log_var_high: float
    seed: int

    def apply(self, bn: torch.nn.modules.batchnorm._BatchNorm) -> torch.nn.modules.batchnorm._BatchNorm:
        g = torch.Generator().manual_seed(self.seed)
        n = self.num_features
        assert bn.running_mean is not None and bn.running_var is not None, "BatchNorm must track running statistics"
        with torch.no_grad():
            bn.running_mean.copy_(torch.randn(n, generator=g, dtype=torch.float64) * 2)
            u = torch.rand(n, generator=g, dtype=torch.float64)
            bn.running_var.copy_(torch.exp(self.log_var_low + u * (self.log_var_high - self.log_var_low)))
            if bn.affine:
                bn.weight.copy_(torch.randn(n, generator=g, dtype=torch.float64) * 1.5)
                bn.bias.copy_(torch.randn(n, generator=g, dtype=torch.float64))
        return bn.eval()

    def make2d(self, dtype: torch.dtype = torch.float32) -> torch.nn.BatchNorm2d:
        return self.apply(torch.nn.BatchNorm2d(self.num_features, eps=self.eps, affine=self.affine).to(dtype))  # type: ignore[return-value]

    def make1d(self, dtype: torch.dtype = torch.float32) -> torch.nn.BatchNorm1d:
        return self.apply(torch.nn.BatchNorm1d(self.num_features, eps=self.eps, affine=self.affine).to(dtype))  # type: ignore[return-value]


@st.composite
def batchnorm_stats(
    draw: st.DrawFn,
    num_features: int,
    *,
    affine: bool | None = None,
    var_range: tuple[float, float] = (1e-4, 1e3),
    eps_range: tuple[float, float] = (1e-5, 1e-1),
) -> BatchNormStats:
    """BatchNorm statistics for `num_features` channels (affine drawn unless given)."""
    log_eps = draw(st.floats(math.log10(eps_range[0]), math.log10(eps_range[1])))
    return BatchNormStats(
        num_features=num_features,
        eps=float(f"{10**log_eps:.3g}"),
        affine=draw(st.booleans()) if affine is None else affine,
        log_var_low=math.log(var_range[0]),
        log_var_high=math.log(var_range[1]),
        seed=draw(seeds()),
    )


def float64_copy(module: torch.nn.Module) -> torch.nn.Module:
    """A float64 copy of a module, for computing expected values precisely."""
    import copy

    return copy.deepcopy(module).double()


# -- edge cases of convolutions ---------------------------------------------------------------------


@st.composite
def pointwise_conv2d_configs(
    draw: st.DrawFn,
    *,
    max_channels: int = 4,
    max_stride: int = 3,
    max_padding: int = 2,
    groups: bool = True,
    max_batch: int = 3,
    max_size: int = 9,
) -> Conv2dConfig:
    """1x1 convolutions (any stride, padding, groups; dilation is irrelevant and stays 1)."""
    config = draw(
        conv2d_configs(
            max_channels=max_channels,
            max_kernel=1,
            max_stride=max_stride,
            max_padding=max_padding,
            max_dilation=1,
            groups=groups,
            max_batch=max_batch,
            max_size=max_size,
        )
    )
    return config


@st.composite
def full_kernel_conv2d_configs(
    draw: st.DrawFn,
    *,
    max_channels: int = 4,
    max_stride: int = 3,
    max_padding: int = 2,
    groups: bool = True,
    max_batch: int = 3,
    max_size: int = 6,
) -> Conv2dConfig:
    """Convolutions whose kernel is exactly as large as the padded input: the output is 1x1."""
    config = draw(
        conv2d_configs(
            max_channels=max_channels,
            max_kernel=1,
            max_stride=max_stride,
            max_padding=max_padding,
            max_dilation=1,
            groups=groups,
            max_batch=max_batch,
            max_size=max_size,
        )
    )
    from dataclasses import replace

    height, width = draw(st.integers(1, max_size)), draw(st.integers(1, max_size))
    kernel = (height + 2 * config.padding[0], width + 2 * config.padding[1])
    return replace(config, kernel_size=kernel, height=height, width=width)


def conv2d_configs_with_edge_cases(
    *,
    max_channels: int = 4,
    max_kernel: int = 4,
    max_stride: int = 3,
    max_padding: int = 2,
    max_dilation: int = 2,
    groups: bool = True,
    max_batch: int = 3,
    max_size: int = 9,
) -> st.SearchStrategy[Conv2dConfig]:
    """:func:`conv2d_configs`, 1x1 kernels, and kernels as large as the padded input, mixed."""
    shared = dict(
        max_channels=max_channels, max_stride=max_stride, max_padding=max_padding, groups=groups, max_batch=max_batch
    )
    return st.one_of(
        conv2d_configs(max_kernel=max_kernel, max_dilation=max_dilation, max_size=max_size, **shared),  # type: ignore[arg-type]
        pointwise_conv2d_configs(max_size=max_size, **shared),  # type: ignore[arg-type]
        full_kernel_conv2d_configs(max_size=min(max_size, 6), **shared),  # type: ignore[arg-type]
    )


# -- random layer stacks --------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerSpec:
    """One layer of a stack: the `torch.nn` class name and its constructor's keyword arguments."""

    kind: str
    options: tuple[tuple[str, object], ...] = ()

    def build(self) -> torch.nn.Module:
        return getattr(torch.nn, self.kind)(**dict(self.options))

    def __repr__(self) -> str:
        return f"{self.kind}({', '.join(f'{k}={v!r}' for k, v in self.options)})"


def _layer(kind: str, **options: object) -> LayerSpec:
    return LayerSpec(kind, tuple(options.items()))


@dataclass(frozen=True)
class SequentialSpec:
    """A flat `nn.Sequential` and the shape `(C, H, W)` of one input it accepts (without the batch)."""

    input_shape: tuple[int, int, int]
    layers: tuple[LayerSpec, ...]
    seed: int

    def make(self, dtype: torch.dtype = torch.float32) -> torch.nn.Sequential:
        """The model in eval mode, its parameters (and BatchNorm statistics) drawn from `seed`."""
        with initialised_from(self.seed):
            model = torch.nn.Sequential(*(layer.build() for layer in self.layers))
        g = torch.Generator().manual_seed(self.seed)
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                n = module.num_features
                assert module.running_mean is not None and module.running_var is not None
                module.running_mean.copy_(torch.randn(n, generator=g))
                module.running_var.copy_(torch.rand(n, generator=g) + 0.5)
        return model.to(dtype).eval()


def _conv_output_size(size: int, k: int, s: int, p: int, d: int) -> int:
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


@st.composite
def sequential_cnns(
    draw: st.DrawFn,
    *,
    max_blocks: int = 3,
    max_channels: int = 6,
    max_size: int = 12,
    head: bool = True,
    max_linear: int = 3,
    dilation: bool = True,
    groups: bool = True,
) -> SequentialSpec:
    """Random flat CNNs: Conv2d blocks (stride, padding, dilation, groups, with or without bias) with
    ReLU, BatchNorm2d, MaxPool2d or AvgPool2d in between, then (if `head`) Flatten and Linear layers.
    Every layer is called exactly once, on a valid input size."""
    c = draw(st.integers(1, max_channels))
    h, w = draw(st.integers(3, max_size)), draw(st.integers(3, max_size))
    input_shape = (c, h, w)
    layers: list[LayerSpec] = []
    for _ in range(draw(st.integers(1, max_blocks))):
        n_groups = draw(st.sampled_from([g for g in (1, 2, 3) if c % g == 0])) if groups else 1
        out = n_groups * draw(st.integers(1, max(1, max_channels // n_groups)))
        k = (draw(st.integers(1, min(4, h))), draw(st.integers(1, min(4, w))))
        p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
        d = tuple(  # a dilation only where the dilated kernel still fits the padded input
            draw(st.integers(1, 2)) if dilation and 2 * (kk - 1) + 1 <= size + 2 * pp else 1
            for size, kk, pp in zip((h, w), k, p, strict=True)
        )
        s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
        layers.append(
            _layer(
                "Conv2d",
                in_channels=c,
                out_channels=out,
                kernel_size=k,
                stride=s,
                padding=p,
                dilation=d,
                groups=n_groups,
                bias=draw(st.booleans()),
            )
        )
        c, h, w = out, _conv_output_size(h, k[0], s[0], p[0], d[0]), _conv_output_size(w, k[1], s[1], p[1], d[1])
        if draw(st.booleans()):
            layers.append(_layer("BatchNorm2d", num_features=c))
        layers.append(draw(st.sampled_from([_layer("ReLU"), _layer("Tanh"), _layer("Identity")])))
        if min(h, w) >= 2 and draw(st.booleans()):
            pool = draw(st.sampled_from(["MaxPool2d", "AvgPool2d"]))
            layers.append(_layer(pool, kernel_size=2, stride=draw(st.integers(1, 2))))
            stride = dict(layers[-1].options)["stride"]
            h, w = (h - 2) // stride + 1, (w - 2) // stride + 1  # type: ignore[operator]
    if head:
        layers.append(_layer("Flatten"))
        features = c * h * w
        for i in range(draw(st.integers(1, max_linear))):
            out = draw(st.integers(1, 8))
            layers.append(_layer("Linear", in_features=features, out_features=out, bias=draw(st.booleans())))
            features = out
            if i < max_linear - 1 and draw(st.booleans()):
                layers.append(draw(st.sampled_from([_layer("ReLU"), _layer("Sigmoid"), _layer("Dropout", p=0.5)])))
    return SequentialSpec(input_shape=input_shape, layers=tuple(layers), seed=draw(seeds()))


@st.composite
def classifier_heads(
    draw: st.DrawFn,
    *,
    max_channels: int = 4,
    max_size: int = 5,
    max_linear: int = 3,
    max_width: int = 8,
) -> SequentialSpec:
    """Fully-connected classifiers on a `(C, H, W)` feature map: Flatten, then Linear layers (with or
    without bias) with ReLU, Tanh or Dropout between them, as at the end of AlexNet or VGG."""
    input_shape = (draw(st.integers(1, max_channels)), draw(st.integers(1, max_size)), draw(st.integers(1, max_size)))
    layers = [_layer("Flatten")]
    features = input_shape[0] * input_shape[1] * input_shape[2]
    n_linear = draw(st.integers(1, max_linear))
    for i in range(n_linear):
        out = draw(st.integers(1, max_width))
        layers.append(_layer("Linear", in_features=features, out_features=out, bias=draw(st.booleans())))
        features = out
        if i < n_linear - 1:
            layers.append(draw(st.sampled_from([_layer("ReLU"), _layer("Tanh"), _layer("Dropout", p=0.5)])))
    return SequentialSpec(input_shape=input_shape, layers=tuple(layers), seed=draw(seeds()))
