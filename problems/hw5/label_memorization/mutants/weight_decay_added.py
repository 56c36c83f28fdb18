# SGD with a weight decay of 1e-2 (the statement asks for none).
# fails: test_one_epoch_is_minibatch_sgd_on_the_mean_loss, test_plain_sgd_without_momentum_or_weight_decay

import torch
import torch.nn.functional as F


def random_labels(n, num_classes, seed):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, num_classes, (n,), generator=generator)


def accuracy(model, images, labels):
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with torch.no_grad():
            predicted = model(images).argmax(dim=1)
        return (predicted == labels).double().mean().item()
    finally:
        for module, training in modes:
            module.training = training


def train(model, images, labels, epochs, lr, batch_size, seed):
    was_training = model.training
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, weight_decay=1e-2)
    n = images.shape[0]
    history = []
    for _ in range(epochs):
        model.train()
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, batch_size):
            batch = order[start:start + batch_size]
            optimizer.zero_grad()
            loss = F.cross_entropy(model(images[batch]), labels[batch])
            loss.backward()
            optimizer.step()
        history.append(accuracy(model, images, labels))
    model.train(was_training)
    return history
