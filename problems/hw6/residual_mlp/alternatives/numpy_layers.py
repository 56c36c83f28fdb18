"""Correct, another way: a textbook layer-class style in numpy; a residual block wraps a dense layer and
an activation, and each class has its own backward."""

import numpy as np
import torch


class Dense:
    def __init__(self, A, b):
        self.A, self.b = A, b

    def forward(self, h):
        self.h = h
        return self.A @ h + self.b

    def backward(self, g):
        self.dA, self.db = np.outer(g, self.h), g
        return self.A.T @ g


class Activation:
    def __init__(self, name):
        self.name = name

    def forward(self, z):
        self.z = z
        if self.name == "tanh":
            return np.tanh(z)
        if self.name == "sigmoid":
            return 1 / (1 + np.exp(-z))
        return np.logaddexp(0.0, z)

    def backward(self, g):
        z = self.z
        if self.name == "tanh":
            return g * (1 - np.tanh(z) ** 2)
        s = 1 / (1 + np.exp(-z))
        return g * (s * (1 - s) if self.name == "sigmoid" else s)


class Residual:
    def __init__(self, dense, act, skip):
        self.dense, self.act, self.skip = dense, act, skip

    def forward(self, h):
        out = self.act.forward(self.dense.forward(h))
        return out + h if self.skip else out

    def backward(self, g):
        through = self.dense.backward(self.act.backward(g))
        return through + g if self.skip else through


def grads(A_list, b_list, x, activation):
    dt = x.dtype
    A = [a.detach().double().numpy() for a in A_list]
    b = [v.detach().double().numpy() for v in b_list]
    dense = [Dense(a, v) for a, v in zip(A, b)]
    blocks = [Residual(dense[l], Activation(activation), skip=l > 0) for l in range(len(A) - 1)]
    h = x.detach().double().numpy()
    for block in blocks:
        h = block.forward(h)
    dense[-1].forward(h)
    g = dense[-1].backward(np.ones(1))
    for block in reversed(blocks):
        g = block.backward(g)
    to = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(dt)  # noqa: E731
    return [to(d.dA) for d in dense], [to(d.db) for d in dense]
