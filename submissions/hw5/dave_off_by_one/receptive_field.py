from torch import nn


def receptive_field(model):
    def pair(v):
        return (v, v) if isinstance(v, int) else v

    r = [1, 1]
    j = [1, 1]
    for m in model:
        if isinstance(m, nn.Conv2d):
            for i in range(2):
                r[i] += m.dilation[i] * (m.kernel_size[i] - 1) * j[i]
                j[i] *= m.stride[i]
        elif isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
            # pooling only looks at a window; it does not move the grid
            k = pair(m.kernel_size)
            d = pair(getattr(m, "dilation", 1))
            for i in range(2):
                r[i] += d[i] * (k[i] - 1) * j[i]
    return (r[0], r[1])
