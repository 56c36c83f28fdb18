"""Hypothesis strategies for writing problems: layer configurations, BatchNorm statistics, tensors.

Strategies draw small, readable descriptions (frozen dataclasses and seeds), and helpers build the
modules and tensors from them, so that a failing test's smallest input prints as something a
student can reproduce: ``Conv2dConfig(in_channels=2, out_channels=1, kernel_size=(1, 3), ...)``.
"""

from __future__ import annotations

import math
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


def tensor(shape: tuple[int, ...], seed: int, *, dtype: torch.dtype = torch.float32, scale: float = 1.0) -> torch.Tensor:
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
        torch.manual_seed(seed)
        conv = torch.nn.Conv2d(
            self.in_channels, self.out_channels, self.kernel_size, stride=self.stride, padding=self.padding,
            dilation=self.dilation, groups=self.groups, bias=self.bias,
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
        in_channels=in_channels, out_channels=out_channels, kernel_size=kernel, stride=stride, padding=padding,
        dilation=dilation, groups=n_groups, bias=draw(st.booleans()), batch=draw(st.integers(1, max_batch)),
        height=sizes[0], width=sizes[1],
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
        eps=float(f"{10 ** log_eps:.3g}"),
        affine=draw(st.booleans()) if affine is None else affine,
        log_var_low=math.log(var_range[0]),
        log_var_high=math.log(var_range[1]),
        seed=draw(seeds()),
    )


def float64_copy(module: torch.nn.Module) -> torch.nn.Module:
    """A float64 copy of a module, for computing expected values precisely."""
    import copy

    return copy.deepcopy(module).double()
