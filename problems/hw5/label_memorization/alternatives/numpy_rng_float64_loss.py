"""Correct, with numpy's seeded generator for labels and order, and the loss computed in float64."""

import numpy as np
import torch
import torch.nn.functional as F


def random_labels(n, num_classes, seed):
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.integers(0, num_classes, size=n)).to(torch.int64)


def accuracy(model, images, labels):
    flags = [(module, module.training) for module in model.modules()]
    for module, _ in flags:
        module.training = False
    try:
        with torch.no_grad():
            logits = model(images)
        predicted = np.asarray(logits.argmax(-1).tolist())
        return float(np.mean(predicted == np.asarray(labels.tolist())))
    finally:
        for module, flag in flags:
            module.training = flag


def train(model, images, labels, epochs, lr, batch_size, seed):
    start_mode = model.training
    rng = np.random.default_rng(seed)
    sgd = torch.optim.SGD(model.parameters(), lr)
    out = []
    n = len(labels)
    for _ in range(epochs):
        model.train()
        order = torch.as_tensor(rng.permutation(n))
        for batch in torch.split(order, batch_size):
            sgd.zero_grad()
            loss = F.cross_entropy(model(images[batch]).double(), labels[batch])
            loss.backward()
            sgd.step()
        out.append(accuracy(model, images, labels))
    model.train(start_mode)
    return out
