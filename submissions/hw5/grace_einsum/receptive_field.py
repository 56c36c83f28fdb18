def receptive_field(model):
    """Walk back from one output unit: a window of r units of a layer's output covers
    (r - 1) * stride + dilation * (kernel - 1) + 1 units of its input."""
    geometric = [m for m in model if type(m).__name__ in ("Conv2d", "MaxPool2d", "AvgPool2d")]
    result = []
    for axis in range(2):
        r = 1
        for m in reversed(geometric):
            pick = lambda v: v if isinstance(v, int) else v[axis]  # noqa: E731
            k, s = pick(m.kernel_size), pick(m.stride)
            d = pick(getattr(m, "dilation", 1))
            r = (r - 1) * s + d * (k - 1) + 1
        result.append(r)
    return result[0], result[1]
