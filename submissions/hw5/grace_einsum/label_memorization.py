import torch
from torch.utils.data import DataLoader, TensorDataset


def random_labels(n, num_classes, seed):
    g = torch.Generator().manual_seed(seed)
    probs = torch.ones(n, num_classes) / num_classes
    return torch.multinomial(probs, 1, generator=g).squeeze(1)


def accuracy(model, images, labels):
    modes = [m.training for m in model.modules()]
    model.eval()
    with torch.no_grad():
        logits = model(images)
    for m, t in zip(model.modules(), modes):
        m.training = t
    return torch.einsum("i,i->", (logits.argmax(1) == labels).double(), torch.ones(len(labels), dtype=torch.double)).item() / len(labels)


def train(model, images, labels, epochs, lr, batch_size, seed):
    was_training = model.training
    loader = DataLoader(TensorDataset(images, labels), batch_size=batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    history = []
    for _ in range(epochs):
        model.train()
        for x, y in loader:
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
        history.append(accuracy(model, images, labels))
    model.train(was_training)
    return history
