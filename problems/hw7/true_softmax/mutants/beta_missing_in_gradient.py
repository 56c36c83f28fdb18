# The gradient is the softmax of x instead of the softmax of beta * x.
# fails: test_grad_nu_matches_autograd, test_grad_nu_is_a_probability_vector, test_grad_nu_tends_to_one_hot_of_the_argmax, test_arguments_are_left_unchanged
import torch


def nu(x, beta):
    return torch.logsumexp(beta * x, dim=-1) / beta


def grad_nu(x, beta):
    return torch.softmax(x, dim=-1)
