# Takes the gradient as exp(beta * x - beta * nu) with nu rounded to x's dtype: near ties where beta * x
# reaches 1e7, float32 rounding of nu shifts every weight by a factor of up to e.
# fails: test_grad_nu_is_a_probability_vector
import torch


def nu(x, beta):
    m = (beta * x).max(dim=-1, keepdim=True).values
    return ((m + torch.log(torch.exp(beta * x - m).sum(dim=-1, keepdim=True))) / beta).squeeze(-1)


def grad_nu(x, beta):
    return torch.exp(beta * x - beta * nu(x, beta).unsqueeze(-1))
