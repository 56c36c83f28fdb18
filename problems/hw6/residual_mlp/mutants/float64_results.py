# Right values by forward-mode tangents in float64, but never cast back: float32 inputs get float64
# gradients.
# fails: test_output_layer_gradients, test_two_layers_without_a_skip_connection, test_bias_gradients_through_the_skip_connections, test_weight_gradients_through_the_skip_connections, test_hidden_width_one
import torch


def _sigma_and_slope(name, z):
    if name == "tanh":
        t = torch.tanh(z)
        return t, 1.0 / torch.cosh(z) ** 2
    if name == "sigmoid":
        s = torch.sigmoid(z)
        return s, torch.exp(-z.abs()) / (1.0 + torch.exp(-z.abs())) ** 2  # symmetric in z
    if name == "softplus":
        return torch.nn.functional.softplus(z), 0.5 * (1.0 + torch.tanh(z / 2))
    raise ValueError(name)


def grads(A_list, b_list, x, activation):
    As = [A.double() for A in A_list]
    bs = [b.double() for b in b_list]
    sizes = [A.numel() + b.numel() for A, b in zip(As, bs)]
    P = sum(sizes)
    y, dy = x.double(), torch.zeros(P, x.numel(), dtype=torch.float64)  # value; tangents [P, len(y)]
    offset = 0
    for l, (A, b) in enumerate(zip(As, bs)):
        rows, cols = A.shape
        z = A @ y + b
        dz = dy @ A.T                                        # through A @ y
        seed = torch.zeros(P, rows, dtype=torch.float64)
        for i in range(rows):                                # d z_i / d A_ij = y_j, d z_i / d b_i = 1
            seed[offset + i * cols: offset + (i + 1) * cols, i] = y
            seed[offset + A.numel() + i, i] = 1.0
        dz = dz + seed
        offset += sizes[l]
        if l == len(As) - 1:
            y, dy = z, dz
        else:
            s, slope = _sigma_and_slope(activation, z)
            if l == 0:
                y, dy = s, dz * slope
            else:
                y, dy = s + y, dz * slope + dy
    g = dy[:, 0]
    dA, db, offset = [], [], 0
    for A, b in zip(A_list, b_list):
        dA.append(g[offset: offset + A.numel()].reshape(A.shape))
        db.append(g[offset + A.numel(): offset + A.numel() + b.numel()].reshape(b.shape))
        offset += A.numel() + b.numel()
    return dA, db
