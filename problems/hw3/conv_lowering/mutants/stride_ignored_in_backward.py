# Scatters the lowered gradient back with stride 1, whatever the stride of the convolution.
# fails: test_backward_dx_with_stride_greater_than_one, test_backward_dx_with_padding
import torch.nn.functional as F


def _out_size(size, k, s, p):
    return (size + 2 * p - k) // s + 1


def im2col(x, kernel_size, stride, padding):
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    n, c = x.shape[:2]
    patches = F.pad(x, (pw, pw, ph, ph)).unfold(2, kh, sh).unfold(3, kw, sw)  # [N, C, Ho, Wo, kh, kw]
    ho, wo = patches.shape[2], patches.shape[3]
    return patches.permute(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, ho * wo)


def conv2d(x, weight, bias, stride, padding):
    o, _, kh, kw = weight.shape
    ho = _out_size(x.shape[2], kh, stride[0], padding[0])
    wo = _out_size(x.shape[3], kw, stride[1], padding[1])
    y = weight.reshape(o, -1) @ im2col(x, (kh, kw), stride, padding)
    y = y.reshape(x.shape[0], o, ho, wo)
    return y if bias is None else y + bias.reshape(1, o, 1, 1)


def conv2d_backward(x, weight, dy, stride, padding):
    n, c, h, w = x.shape
    o, _, kh, kw = weight.shape
    ph, pw = padding
    ho, wo = dy.shape[2], dy.shape[3]
    cols = im2col(x, (kh, kw), stride, padding)
    dy_flat = dy.reshape(n, o, ho * wo)
    dweight = (dy_flat @ cols.transpose(1, 2)).sum(dim=0).reshape(weight.shape)
    dbias = dy.sum(dim=(0, 2, 3))
    dcols = (weight.reshape(o, -1).T @ dy_flat).reshape(n, c, kh, kw, ho, wo)
    dx_padded = x.new_zeros(n, c, h + 2 * ph, w + 2 * pw)
    for u in range(kh):
        for t in range(kw):
            dx_padded[:, :, u:u + ho, t:t + wo] += dcols[:, :, u, t]
    return dx_padded[:, :, ph:ph + h, pw:pw + w], dweight, dbias
