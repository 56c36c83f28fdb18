# Right iterates, unrolled in float64, but never cast back: a float32 theta0 gets float64 iterates.
# fails: test_heavy_ball_first_step_is_a_gradient_step, test_heavy_ball_follows_the_recursion, test_momentum_sgd_follows_the_recursion, test_momentum_sgd_agrees_with_torch_optim_sgd, test_beta_zero_is_plain_gradient_descent
import torch


def _unrolled(theta0, grads, lr, beta):
    k = len(grads)
    G = torch.stack([g.double() for g in grads])                              # [K, ...]
    j = torch.arange(k, dtype=torch.float64)
    powers = torch.where(j[:, None] >= j[None, :],
                         torch.tensor(float(beta), dtype=torch.float64) ** (j[:, None] - j[None, :]).clamp(min=0),
                         torch.zeros((), dtype=torch.float64))                # velocity v^{j+1} = sum_i P[j, i] g^i
    V = torch.einsum("ji,i...->j...", powers, G)
    thetas = theta0.double() - lr * torch.cumsum(V, dim=0)
    return list(thetas)


def heavy_ball(theta0, grads, lr, beta):
    return _unrolled(theta0, grads, lr, beta)


def momentum_sgd(theta0, grads, lr, beta):
    return _unrolled(theta0, grads, lr, beta)
