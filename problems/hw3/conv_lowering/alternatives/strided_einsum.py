"""Correct, another way: the windows as an as_strided view of the padded input, einsum for the
products, and the input gradient scattered with index_add_ over a flat index of the padded input."""

import torch


def _windows(xp, kh, kw, sh, sw):
    n, c, hp, wp = xp.shape
    ho, wo = (hp - kh) // sh + 1, (wp - kw) // sw + 1
    xp = xp.contiguous()
    sn, sc, sr, sq = xp.stride()
    return torch.as_strided(xp, (n, c, kh, kw, ho, wo), (sn, sc, sr, sq, sr * sh, sq * sw))


def _pad(x, ph, pw):
    n, c, h, w = x.shape
    xp = x.new_zeros(n, c, h + 2 * ph, w + 2 * pw)
    xp[:, :, ph:ph + h, pw:pw + w] = x
    return xp


def im2col(x, kernel_size, stride, padding):
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    win = _windows(_pad(x, ph, pw), kh, kw, sh, sw)
    n, c, _, _, ho, wo = win.shape
    return win.reshape(n, c * kh * kw, ho * wo)


def conv2d(x, weight, bias, stride, padding):
    kh, kw = weight.shape[2:]
    win = _windows(_pad(x, *padding), kh, kw, *stride)
    y = torch.einsum("ncuthw,ocut->nohw", win, weight)
    return y if bias is None else y + bias[:, None, None]


def conv2d_backward(x, weight, dy, stride, padding):
    (sh, sw), (ph, pw) = stride, padding
    n, c, h, w = x.shape
    kh, kw = weight.shape[2:]
    ho, wo = dy.shape[2:]
    hp, wp = h + 2 * ph, w + 2 * pw
    win = _windows(_pad(x, ph, pw), kh, kw, sh, sw)
    dweight = torch.einsum("ncuthw,nohw->ocut", win, dy)
    dbias = dy.sum(dim=(0, 2, 3))
    dwin = torch.einsum("ocut,nohw->ncuthw", weight, dy)                  # [N, C, kh, kw, Ho, Wo]
    rows = torch.arange(kh)[:, None, None, None] + sh * torch.arange(ho)[None, None, :, None]
    cols = torch.arange(kw)[None, :, None, None] + sw * torch.arange(wo)[None, None, None, :]
    flat = (rows * wp + cols).reshape(-1)                                 # padded position of each entry
    dxp = x.new_zeros(n, c, hp * wp)
    dxp.index_add_(2, flat, dwin.reshape(n, c, -1))
    return dxp.reshape(n, c, hp, wp)[:, :, ph:ph + h, pw:pw + w].contiguous(), dweight, dbias
