# Starts the backward pass from ones instead of the loss derivative y_L - y.
# fails: test_last_layer_gradients, test_single_linear_layer, test_bias_gradients_of_every_layer, test_weight_gradients_of_every_layer, test_arguments_are_left_unchanged
import torch


def backprop(A_list, b_list, x, y):
    inputs, pre = [], []
    h = x
    last = len(A_list) - 1
    for l, (A, b) in enumerate(zip(A_list, b_list)):
        inputs.append(h)
        z = A @ h + b
        pre.append(z)
        h = torch.sigmoid(z) if l < last else z
    g = torch.ones_like(h)
    dA_list, db_list = [None] * len(A_list), [None] * len(A_list)
    for l in range(last, -1, -1):
        if l < last:
            s = torch.sigmoid(pre[l])
            g = g * s * (1 - s)
        db_list[l] = g
        dA_list[l] = g @ inputs[l].T
        g = A_list[l].T @ g
    return dA_list, db_list
