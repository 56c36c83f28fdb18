import torch
import torch.nn.functional as F


def random_labels(n, num_classes, seed):
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, num_classes, (n,), generator=gen)


def accuracy(model, images, labels):
    modes = {m: m.training for m in model.modules()}
    model.eval()
    with torch.no_grad():
        pred = model(images).argmax(dim=1)
    for m, mode in modes.items():
        m.train(mode)
    return (pred == labels).float().mean().item()


def train(model, images, labels, epochs, lr, batch_size, seed):
    was_training = model.training
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    history = []
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(images), generator=gen)
        for i in range(0, len(images), batch_size):
            idx = perm[i:i + batch_size]
            opt.zero_grad()
            loss = F.cross_entropy(model(images[idx]), labels[idx])
            loss.backward()
            opt.step()
        history.append(accuracy(model, images, labels))
    model.train(was_training)
    return history
