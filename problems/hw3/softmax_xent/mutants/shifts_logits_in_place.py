# Right values, but the gradient subtracts the row maximum from the logits in place: the caller's
# logits are changed.
# fails: test_arguments_are_left_unchanged
import torch


def cross_entropy(logits, target):
    log_p = torch.log_softmax(logits, dim=1)
    return -log_p.gather(1, target[:, None]).squeeze(1)


def cross_entropy_grad(logits, target):
    logits -= logits.max(dim=1, keepdim=True).values
    p = logits.exp()
    p /= p.sum(dim=1, keepdim=True)
    p[torch.arange(logits.shape[0]), target] -= 1
    return p
