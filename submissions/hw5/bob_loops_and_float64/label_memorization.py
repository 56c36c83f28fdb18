import torch


def random_labels(n, num_classes, seed):
    g = torch.Generator()
    g.manual_seed(seed)
    out = torch.zeros(n, dtype=torch.long)
    for i in range(n):
        out[i] = torch.randint(0, num_classes, (1,), generator=g)[0]
    return out


def accuracy(model, images, labels):
    saved = [m.training for m in model.modules()]
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(len(images)):
            scores = model(images[i:i + 1])[0].double()
            if int(torch.argmax(scores)) == int(labels[i]):
                correct += 1
    for m, t in zip(model.modules(), saved):
        m.training = t
    return correct / len(images)


def train(model, images, labels, epochs, lr, batch_size, seed):
    start_mode = model.training
    g = torch.Generator()
    g.manual_seed(seed)
    history = []
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(images), generator=g)
        for start in range(0, len(images), batch_size):
            batch = order[start:start + batch_size]
            for p in model.parameters():
                p.grad = None
            # one image at a time, the mean loss accumulated in float64
            total = 0.0
            for i in batch:
                scores = model(images[i:i + 1])[0].double()
                total = total + (torch.logsumexp(scores, 0) - scores[labels[i]])
            (total / len(batch)).backward()
            with torch.no_grad():
                for p in model.parameters():
                    p -= lr * p.grad
        history.append(accuracy(model, images, labels))
    model.train(start_mode)
    return history
