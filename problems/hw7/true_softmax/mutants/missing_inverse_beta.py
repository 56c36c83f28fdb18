# Forgets the 1/beta in front of the log-sum-exp.
# fails: test_nu_matches_definition, test_nu_lies_between_max_and_max_plus_log_n_over_beta, test_nu_is_finite_for_huge_beta_times_x, test_arguments_are_left_unchanged
import torch


def nu(x, beta):
    return torch.logsumexp(beta * x, dim=-1)


def grad_nu(x, beta):
    return torch.softmax(beta * x, dim=-1)
