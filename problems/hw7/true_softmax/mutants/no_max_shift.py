# Overflows: exponentiates beta * x without subtracting the maximum first.
# fails: test_nu_is_finite_for_huge_beta_times_x, test_grad_nu_is_a_probability_vector, test_grad_nu_tends_to_one_hot_of_the_argmax
import torch


def nu(x, beta):
    return torch.log(torch.exp(beta * x).sum(dim=-1)) / beta


def grad_nu(x, beta):
    e = torch.exp(beta * x)
    return e / e.sum(dim=-1, keepdim=True)
