import torch
import torch.nn.functional as F


def im2col(x, kernel_size, stride, padding):
    kh, kw = kernel_size
    sh, sw = stride
    ph, pw = padding
    n, c = x.shape[0], x.shape[1]
    xp = F.pad(x, (pw, pw, ph, ph))
    blocks = xp.unfold(2, kh, sh).unfold(3, kw, sw)  # n, c, ho, wo, kh, kw
    ho, wo = blocks.shape[2], blocks.shape[3]
    return blocks.permute(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, ho * wo)


def conv2d(x, weight, bias, stride, padding):
    out_ch, _, kh, kw = weight.shape
    cols = im2col(x, (kh, kw), stride, padding)
    ho = (x.shape[2] + 2 * padding[0] - kh) // stride[0] + 1
    wo = (x.shape[3] + 2 * padding[1] - kw) // stride[1] + 1
    y = torch.matmul(weight.reshape(out_ch, -1), cols).reshape(x.shape[0], out_ch, ho, wo)
    return y + bias.reshape(1, -1, 1, 1)


def conv2d_backward(x, weight, dy, stride, padding):
    n, c, h, w = x.shape
    out_ch, _, kh, kw = weight.shape
    ho, wo = dy.shape[2], dy.shape[3]
    cols = im2col(x, (kh, kw), stride, padding)
    d = dy.reshape(n, out_ch, -1)
    dweight = torch.einsum("nol,nkl->ok", d, cols).reshape(weight.shape)
    dbias = dy.sum(dim=(0, 2, 3))
    dcols = torch.matmul(weight.reshape(out_ch, -1).T, d).reshape(n, c, kh, kw, ho, wo)
    grad = torch.zeros(n, c, h + 2 * padding[0], w + 2 * padding[1], dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            rows = slice(i, i + stride[0] * (ho - 1) + 1, stride[0])
            cols_ = slice(j, j + stride[1] * (wo - 1) + 1, stride[1])
            grad[:, :, rows, cols_] += dcols[:, :, i, j]
    return grad[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w], dweight, dbias
