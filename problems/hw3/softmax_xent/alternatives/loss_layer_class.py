"""Correct, another way: a textbook loss layer with its own forward and backward; the library loss
gives the value (allowed), the layer's backward the gradient from the cached probabilities."""

import torch.nn.functional as F


class SoftmaxWithLoss:
    def forward(self, scores, labels):
        shifted = scores - scores.max(dim=1, keepdim=True).values
        exp = shifted.exp()
        self.probs = exp / exp.sum(dim=1, keepdim=True)
        self.one_hot = F.one_hot(labels, scores.shape[1]).to(scores.dtype)
        return F.cross_entropy(scores, labels, reduction="none")

    def backward(self, dout=None):
        grad = self.probs - self.one_hot
        return grad if dout is None else grad * dout[:, None]


def cross_entropy(logits, target):
    return SoftmaxWithLoss().forward(logits, target)


def cross_entropy_grad(logits, target):
    layer = SoftmaxWithLoss()
    layer.forward(logits, target)
    return layer.backward()
