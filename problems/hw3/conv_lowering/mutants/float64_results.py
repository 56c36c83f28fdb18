# Right values by loops in float64, but never cast back: float32 inputs get float64 results.
# fails: test_im2col_matches_unfold, test_conv2d_with_stride_one, test_conv2d_with_stride_greater_than_one, test_conv2d_with_1x1_kernels_and_kernels_as_large_as_the_padded_input, test_backward_dx_without_padding_or_stride, test_backward_dx_with_padding, test_backward_dx_with_stride_greater_than_one, test_backward_dweight, test_backward_dbias
import torch


def _pad(x, ph, pw):
    n, c, h, w = x.shape
    out = torch.zeros(n, c, h + 2 * ph, w + 2 * pw, dtype=torch.float64)
    out[:, :, ph:ph + h, pw:pw + w] = x.double()
    return out


def _sizes(h, w, kh, kw, sh, sw, ph, pw):
    return (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1


def im2col(x, kernel_size, stride, padding):
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    n, c, h, w = x.shape
    ho, wo = _sizes(h, w, kh, kw, sh, sw, ph, pw)
    xp = _pad(x, ph, pw)
    cols = torch.zeros(n, c * kh * kw, ho * wo, dtype=torch.float64)
    for r in range(ho):
        for q in range(wo):
            patch = xp[:, :, r * sh:r * sh + kh, q * sw:q * sw + kw]  # [N, C, kh, kw]
            cols[:, :, r * wo + q] = patch.reshape(n, -1)
    return cols


def conv2d(x, weight, bias, stride, padding):
    o, c, kh, kw = weight.shape
    (sh, sw), (ph, pw) = stride, padding
    n, _, h, w = x.shape
    ho, wo = _sizes(h, w, kh, kw, sh, sw, ph, pw)
    xp = _pad(x, ph, pw)
    wd = weight.double()
    y = torch.zeros(n, o, ho, wo, dtype=torch.float64)
    for r in range(ho):
        for q in range(wo):
            patch = xp[:, :, r * sh:r * sh + kh, q * sw:q * sw + kw]
            y[:, :, r, q] = torch.tensordot(patch, wd, dims=([1, 2, 3], [1, 2, 3]))
    if bias is not None:
        y += bias.double()[None, :, None, None]
    return y


def conv2d_backward(x, weight, dy, stride, padding):
    o, c, kh, kw = weight.shape
    (sh, sw), (ph, pw) = stride, padding
    n, _, h, w = x.shape
    ho, wo = dy.shape[2], dy.shape[3]
    xp = _pad(x, ph, pw)
    wd, dyd = weight.double(), dy.double()
    dxp = torch.zeros_like(xp)
    dw = torch.zeros(o, c, kh, kw, dtype=torch.float64)
    for r in range(ho):
        for q in range(wo):
            g = dyd[:, :, r, q]  # [N, O]
            rows, colsl = slice(r * sh, r * sh + kh), slice(q * sw, q * sw + kw)
            dxp[:, :, rows, colsl] += torch.tensordot(g, wd, dims=([1], [0]))
            dw += torch.tensordot(g, xp[:, :, rows, colsl], dims=([0], [0]))
    db = dyd.sum(dim=(0, 2, 3))
    dx = dxp[:, :, ph:ph + h, pw:pw + w]
    return dx.contiguous(), dw, db
