# Right values, computed in float64, but never cast back: float32 inputs get float64 gradients.
# fails: test_last_layer_gradients, test_single_linear_layer, test_bias_gradients_of_every_layer, test_weight_gradients_of_every_layer
import torch


def backprop(A_list, b_list, x, y):
    Ws = [A.double().T for A in A_list]          # [n_{l-1}, n_l]
    cs = [b.double().T for b in b_list]          # [1, n_l]
    h = x.double().T                             # [1, n_0]
    hs, zs = [], []
    for l, (W, c) in enumerate(zip(Ws, cs)):
        hs.append(h)
        z = h @ W + c
        zs.append(z)
        h = torch.sigmoid(z) if l + 1 < len(Ws) else z
    g = h - y.double().T
    dA, db = [], []
    for l in reversed(range(len(Ws))):
        if l + 1 < len(Ws):
            g = g * torch.sigmoid(zs[l]) * torch.sigmoid(-zs[l])
        dA.append((hs[l].T @ g).T)
        db.append(g.T)
        g = g @ Ws[l].T
    return dA[::-1], db[::-1]
