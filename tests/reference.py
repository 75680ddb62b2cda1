"""NumPy references of each cell's equations, written independently of the Keras code.

Gate blocks follow the cells' documented layout: (i, f, c, o), CIFG (f, c, o), forget-gate (f, c).
A cell without a reference here fails the registry-wide tests until one is written.
"""

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def layer_norm(x, epsilon):
    mean = x.mean(axis=-1, keepdims=True)
    variance = x.var(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon)


def step(kind, w, x, h, c, epsilon=1e-5):
    """One time step of cell ``kind`` with weights ``w`` (dict by weight name) -> (h, c)."""
    z = x @ w["kernel"] + h @ w["recurrent_kernel"]
    if kind == "layer_norm":
        blocks = np.split(z, 4, axis=-1)
        z = np.concatenate([layer_norm(b, epsilon) for b in blocks], axis=-1) * w["gate_gamma"]
    z = z + w["bias"]
    if kind == "forget_gate":  # JANET: the write gate is the forget gate shifted by 1; h = c
        z_f, z_c = np.split(z, 2, axis=-1)
        c_new = sigmoid(z_f) * c + (1 - sigmoid(z_f - 1.0)) * np.tanh(z_c)
        return c_new, c_new
    if kind not in ("lstm", "peephole", "cifg", "layer_norm", "projection"):
        raise NotImplementedError(f"no NumPy reference for cell {kind!r}: write one in tests/reference.py")
    if kind == "cifg":
        z_f, z_c, z_o = np.split(z, 3, axis=-1)
        f = sigmoid(z_f)
        c_new = f * c + (1 - f) * np.tanh(z_c)
        return sigmoid(z_o) * np.tanh(c_new), c_new
    z_i, z_f, z_c, z_o = np.split(z, 4, axis=-1)
    if kind == "peephole":
        i = sigmoid(z_i + w["input_peephole"] * c)
        f = sigmoid(z_f + w["forget_peephole"] * c)
        c_new = f * c + i * np.tanh(z_c)
        o = sigmoid(z_o + w["output_peephole"] * c_new)
        return o * np.tanh(c_new), c_new
    i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o)
    c_new = f * c + i * np.tanh(z_c)
    shown = c_new
    if kind == "layer_norm":
        shown = w["cell_gamma"] * layer_norm(c_new, epsilon) + w["cell_beta"]
    h_new = o * np.tanh(shown)
    if kind == "projection":
        h_new = h_new @ w["projection_kernel"]
    return h_new, c_new


def run(kind, w, xs, h0, c0, mask=None, go_backwards=False):
    """Run over xs (B, T, F). Masked steps keep the previous state and repeat the previous output."""
    steps = range(xs.shape[1])
    if go_backwards:
        steps = reversed(list(steps))
    h, c, outputs = h0, c0, []
    for t in steps:
        h_new, c_new = step(kind, w, xs[:, t], h, c)
        if mask is not None:
            keep = mask[:, t, None]
            h_new = np.where(keep, h_new, h)
            c_new = np.where(keep, c_new, c)
        h, c = h_new, c_new
        outputs.append(h)
    return np.stack(outputs, axis=1), h, c
