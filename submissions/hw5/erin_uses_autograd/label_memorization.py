import torch
import torch.nn.functional as F


def random_labels(n, num_classes, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(num_classes, (n,), generator=g)


def accuracy(model, images, labels):
    before = {name: m.training for name, m in model.named_modules()}
    model.eval()
    with torch.inference_mode():
        hits = (model(images).argmax(-1) == labels).sum().item()
    for name, m in model.named_modules():
        m.training = before[name]
    return hits / labels.numel()


def train(model, images, labels, epochs, lr, batch_size, seed):
    was = model.training
    g = torch.Generator().manual_seed(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    history = []
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(labels), generator=g)
        for idx in torch.split(perm, batch_size):
            loss = F.cross_entropy(model(images[idx]), labels[idx])
            grads = torch.autograd.grad(loss, params)
            with torch.no_grad():
                for p, gr in zip(params, grads):
                    p.sub_(lr * gr)
        history.append(accuracy(model, images, labels))
    model.train(was)
    return history
