"""Correct, another way: numpy, the log-sum-exp by np.logaddexp.reduce, the one-hot by np.eye."""

import numpy as np
import torch


def cross_entropy(logits, target):
    z = logits.detach().numpy()
    lse = np.logaddexp.reduce(z, axis=1)
    picked = np.take_along_axis(z, target.numpy()[:, None], axis=1)[:, 0]
    return torch.from_numpy(np.asarray(lse - picked, dtype=z.dtype))


def cross_entropy_grad(logits, target):
    z = logits.detach().numpy()
    lse = np.logaddexp.reduce(z, axis=1, keepdims=True)
    one_hot = np.eye(z.shape[1], dtype=z.dtype)[target.numpy()]
    return torch.from_numpy(np.asarray(np.exp(z - lse) - one_hot, dtype=z.dtype))
