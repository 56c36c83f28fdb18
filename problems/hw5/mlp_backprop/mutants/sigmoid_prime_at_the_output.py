# Evaluates sigmoid' at the layer's output y_l = sigmoid(z_l) instead of at the pre-activation z_l.
# fails: test_bias_gradients_of_every_layer, test_weight_gradients_of_every_layer, test_arguments_are_left_unchanged
import torch


def backprop(A_list, b_list, x, y):
    outputs = [x]
    h = x
    last = len(A_list) - 1
    for l, (A, b) in enumerate(zip(A_list, b_list)):
        z = A @ h + b
        h = torch.sigmoid(z) if l < last else z
        outputs.append(h)
    g = h - y
    dA_list, db_list = [None] * len(A_list), [None] * len(A_list)
    for l in range(last, -1, -1):
        if l < last:
            s = torch.sigmoid(outputs[l + 1])
            g = g * s * (1 - s)
        db_list[l] = g
        dA_list[l] = g @ outputs[l].T
        g = A_list[l].T @ g
    return dA_list, db_list
