"""Correct, in the torch.utils.data style: a DataLoader with a seeded generator, and multinomial labels."""

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def random_labels(n, num_classes, seed):
    generator = torch.Generator().manual_seed(seed)
    weights = torch.full((num_classes,), 1.0 / num_classes)
    return torch.multinomial(weights, n, replacement=True, generator=generator)


class _Evaluating:
    """Eval mode and no gradients inside the block; every submodule's own mode back afterwards."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        self.modes = [m.training for m in self.model.modules()]
        self.grad = torch.no_grad()
        self.grad.__enter__()
        self.model.eval()
        return self.model

    def __exit__(self, *exc):
        for module, mode in zip(self.model.modules(), self.modes):
            module.training = mode
        self.grad.__exit__(*exc)
        return False


def accuracy(model, images, labels):
    with _Evaluating(model) as m:
        correct = (m(images).max(dim=1).indices == labels).float().sum()
    return correct.item() / labels.numel()


def train(model, images, labels, epochs, lr, batch_size, seed):
    initial_mode = model.training
    loader = DataLoader(
        TensorDataset(images, labels), batch_size=batch_size, shuffle=True, drop_last=False,
        generator=torch.Generator().manual_seed(seed),
    )
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.0, weight_decay=0.0)
    accuracies = []
    for _ in range(epochs):
        model.train()
        for x, y in loader:
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x), y).backward()
            opt.step()
        accuracies.append(accuracy(model, images, labels))
    model.train(initial_mode)
    return accuracies
