def _two(v):
    return (v, v) if isinstance(v, int) else (v[0], v[1])


def receptive_field(model):
    answer = []
    for dim in range(2):
        r, j = 1, 1
        for layer in model:
            name = type(layer).__name__
            if name not in ("Conv2d", "MaxPool2d", "AvgPool2d"):
                continue
            k = _two(layer.kernel_size)[dim]
            s = _two(layer.stride)[dim]
            d = _two(getattr(layer, "dilation", 1))[dim]
            r = r + d * (k - 1) * j
            j = j * s
        answer.append(r)
    return tuple(answer)
