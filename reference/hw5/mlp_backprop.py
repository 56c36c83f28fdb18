"""Reference for hw5/mlp_backprop: backpropagation through a sigmoid MLP with column vectors, by hand."""

import torch


def backprop(A_list, b_list, x, y):
    # Forward pass, keeping every layer's input and pre-activation.
    inputs, pre = [], []
    h = x
    last = len(A_list) - 1
    for l, (A, b) in enumerate(zip(A_list, b_list)):
        inputs.append(h)
        z = A @ h + b
        pre.append(z)
        h = torch.sigmoid(z) if l < last else z
    # Backward pass: g is the gradient of the loss with respect to the current layer's output.
    g = h - y
    dA_list, db_list = [None] * len(A_list), [None] * len(A_list)
    for l in range(last, -1, -1):
        if l < last:
            s = torch.sigmoid(pre[l])
            g = g * s * (1 - s)
        db_list[l] = g
        dA_list[l] = g @ inputs[l].T
        g = A_list[l].T @ g
    return dA_list, db_list
