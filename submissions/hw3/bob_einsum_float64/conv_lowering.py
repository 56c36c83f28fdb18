# Lowering without Tensor.unfold: one strided slice of the padded input per kernel position.
import torch


def _padded(x, ph, pw):
    n, c, h, w = x.shape
    out = torch.zeros(n, c, h + 2 * ph, w + 2 * pw, dtype=torch.float64)
    out[:, :, ph:ph + h, pw:pw + w] = x.double()
    return out


def _sizes(h, w, kernel_size, stride, padding):
    ho = (h + 2 * padding[0] - kernel_size[0]) // stride[0] + 1
    wo = (w + 2 * padding[1] - kernel_size[1]) // stride[1] + 1
    return ho, wo


def _lower64(x, kernel_size, stride, padding):
    n, c, h, w = x.shape
    kh, kw = kernel_size
    sh, sw = stride
    ho, wo = _sizes(h, w, kernel_size, stride, padding)
    xp = _padded(x, *padding)
    cols = torch.empty(n, c, kh, kw, ho, wo, dtype=torch.float64)
    for u in range(kh):
        for t in range(kw):
            cols[:, :, u, t] = xp[:, :, u:u + sh * (ho - 1) + 1:sh, t:t + sw * (wo - 1) + 1:sw]
    return cols.reshape(n, c * kh * kw, ho * wo)


def im2col(x, kernel_size, stride, padding):
    return _lower64(x, kernel_size, stride, padding).to(x.dtype)


def conv2d(x, weight, bias, stride, padding):
    o, c, kh, kw = weight.shape
    ho, wo = _sizes(x.shape[2], x.shape[3], (kh, kw), stride, padding)
    cols = _lower64(x, (kh, kw), stride, padding)
    y = torch.einsum("ok,nkl->nol", weight.double().reshape(o, -1), cols).reshape(x.shape[0], o, ho, wo)
    if bias is not None:
        y = y + bias.double().reshape(1, o, 1, 1)
    return y.to(x.dtype)


def conv2d_backward(x, weight, dy, stride, padding):
    n, c, h, w = x.shape
    o, _, kh, kw = weight.shape
    ho, wo = dy.shape[2], dy.shape[3]
    sh, sw = stride
    ph, pw = padding
    cols = _lower64(x, (kh, kw), stride, padding)
    d = dy.double().reshape(n, o, ho * wo)
    w64 = weight.double().reshape(o, -1)
    dweight = torch.einsum("nol,nkl->ok", d, cols).reshape(weight.shape)
    dbias = d.sum(dim=(0, 2))
    dcols = torch.einsum("ok,nol->nkl", w64, d).reshape(n, c, kh, kw, ho, wo)
    dxp = torch.zeros(n, c, h + 2 * ph, w + 2 * pw, dtype=torch.float64)
    for r in range(ho):
        for s in range(wo):
            dxp[:, :, r * sh:r * sh + kh, s * sw:s * sw + kw] += dcols[:, :, :, :, r, s]
    dx = dxp[:, :, ph:ph + h, pw:pw + w]
    return dx.to(x.dtype), dweight.to(x.dtype), dbias.to(x.dtype)
