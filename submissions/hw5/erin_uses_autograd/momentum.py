import torch


def heavy_ball(theta0, grads, lr, beta):
    prev = theta0.double()
    cur = theta0.double()
    out = []
    for k in range(len(grads)):
        nxt = cur - lr * grads[k].double() + beta * (cur - prev)
        prev, cur = cur, nxt
        out.append(cur.to(theta0.dtype))
    return out


def momentum_sgd(theta0, grads, lr, beta):
    theta = theta0.double()
    v = torch.zeros_like(theta)
    out = []
    for k in range(len(grads)):
        v = grads[k].double() + beta * v
        theta = theta - lr * v
        out.append(theta.to(theta0.dtype))
    return out
