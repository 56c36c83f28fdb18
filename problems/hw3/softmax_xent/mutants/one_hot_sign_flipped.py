# Adds the one-hot target to the softmax instead of subtracting it.
# fails: test_gradient_matches_autograd, test_gradient_is_finite_for_huge_logits, test_gradient_rows_sum_to_zero_with_the_only_negative_entry_at_the_target, test_arguments_are_left_unchanged
import torch
import torch.nn.functional as F


def cross_entropy(logits, target):
    return F.cross_entropy(logits, target, reduction="none")


def cross_entropy_grad(logits, target):
    one_hot = F.one_hot(target, logits.shape[1]).to(logits.dtype)
    return torch.softmax(logits, dim=1) + one_hot
