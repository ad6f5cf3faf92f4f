"""The benchmark workloads, each written three ways where it makes sense: kinkgrad, PyTorch eager,
and hand-written NumPy (the floor for any NumPy engine). Every variant returns the gradient so
the runner can check that all of them compute the same thing before timing them."""
from __future__ import annotations

import numpy as np

import kinkgrad as kg

CHAIN_OPS = 60     # elementwise ops per chain (fwd + bwd), on 16 floats
SCALAR_CHAIN = 20_000


def _chain_kg(x):
    y = x
    for _ in range(CHAIN_OPS // 4):
        y = y * 0.99
        y = y + 0.01
        y = kg.sin(y)
        y = kg.tanh(y)
    return y


def per_op_kinkgrad(x0, kinks=None, anomaly=False):
    if kinks is not None:
        with kg.kinks(kinks, seed=0):
            return per_op_kinkgrad(x0)
    if anomaly:
        with kg.detect_anomaly():
            return per_op_kinkgrad(x0)
    x = kg.tensor(x0, requires_grad=True)
    _chain_kg(x).sum().backward()
    return x.grad.data


def per_op_torch(x0):
    import torch

    x = torch.tensor(x0, requires_grad=True)
    y = x
    for _ in range(CHAIN_OPS // 4):
        y = y * 0.99
        y = y + 0.01
        y = torch.sin(y)
        y = torch.tanh(y)
    y.sum().backward()
    return x.grad.numpy()


def per_op_numpy(x0):
    saved = []
    y = x0
    for _ in range(CHAIN_OPS // 4):
        y = y * np.float32(0.99)
        y = y + np.float32(0.01)
        saved.append(y)
        y = np.sin(y)
        y = np.tanh(y)
        saved.append(y)
    g = np.ones_like(y)
    for i in range(CHAIN_OPS // 4 - 1, -1, -1):
        g = g * (1 - saved[2 * i + 1] ** 2)
        g = g * np.cos(saved[2 * i])
        g = g * np.float32(0.99)
    return g


def scalar_chain_graph(n, dtype="float32"):
    """A leaf x and y = n alternating ops (* 1.0000001, + 0.0) on it: the graph, not yet differentiated."""
    x = kg.tensor(1.0, requires_grad=True, dtype=dtype)
    y = x
    for _ in range(n // 2):
        y = y * 1.0000001
        y = y + 0.0
    return x, y


def scalar_chain_kinkgrad(n=SCALAR_CHAIN):
    x, y = scalar_chain_graph(n)
    y.backward()
    return x.grad.data


def scalar_chain_torch(n=SCALAR_CHAIN):
    import torch

    x = torch.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(n // 2):
        y = y * 1.0000001
        y = y + 0.0
    y.backward()
    return x.grad.numpy()


# -- the cost of the kink machinery --------------------------------------------------------------
from kinkgrad.autodiff.primitive import Primitive  # noqa: E402

# relu and sqrt exactly as kinkgrad declares them, minus the kink declaration / singular masking:
# the baseline an op with no kink logic at all would cost
plain_relu = Primitive("plain_relu", lambda x: np.maximum(x, 0), derivs=(lambda m, out, x: x > 0,))
plain_sqrt = Primitive("plain_sqrt", np.sqrt, derivs=(lambda m, out, x: 0.5 / out,))


def unary_chain(x0, op, n=CHAIN_OPS, context=None):
    import contextlib

    with context() if context else contextlib.nullcontext():
        x = kg.tensor(x0, requires_grad=True)
        y = x
        for _ in range(n):
            y = op(y)
        y.sum().backward()
    return x.grad.data


def sqrt_chain(x0, op, n=8):
    x = kg.tensor(x0, requires_grad=True)
    y = x
    for _ in range(n):
        y = op(y) + 0.5     # stays positive: the masking check runs but never fires
    y.sum().backward()
    return x.grad.data


# -- directional mode vs a plain gradient ----------------------------------------------------------
def small_mlp(seed=0, n_in=64, hidden=128, n_out=10, batch=64):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal((n_in, hidden)) * 0.1, np.zeros(hidden),
              rng.standard_normal((hidden, n_out)) * 0.1, np.zeros(n_out)]
    X = rng.standard_normal((batch, n_in))
    y = rng.integers(0, n_out, batch)
    return [p.astype(np.float32) for p in params], X.astype(np.float32), y


def mlp_loss(w1, b1, w2, b2, X, y):
    logits = kg.relu(X @ w1 + b1) @ w2 + b2
    return -kg.mean(kg.log_softmax(logits)[np.arange(len(y)), y])


def mlp_grad(params, X, y, kinks=None):
    g = kg.grad(mlp_loss, argnums=(0, 1, 2, 3), kinks=kinks, seed=0 if kinks == "directional" else None)
    return g(*params, X, y)


# -- the MLP training step (784-512-512-10, batch 128, float32, SGD) ------------------------------
def mlp_data(seed=0, batch=128, sizes=(784, 512, 512, 10)):
    rng = np.random.default_rng(seed)
    ws = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        ws += [(rng.standard_normal((a, b)) * np.sqrt(2 / a)).astype(np.float32), np.zeros(b, np.float32)]
    X = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], batch)
    return ws, X, y


def mlp_loss_kinkgrad(params, X, y):
    w1, b1, w2, b2, w3, b3 = params
    h = kg.relu(kg.affine(X, w1, b1))          # x @ w + b as one node, like torch.addmm
    h = kg.relu(kg.affine(h, w2, b2))
    logits = kg.affine(h, w3, b3)
    return kg.mean(kg.softmax_cross_entropy(logits, y))    # fused, like F.cross_entropy


def mlp_step_kinkgrad(params, X, y, lr=0.01):
    """One SGD step; params are kinkgrad tensors (requires_grad) updated in place."""
    return _sgd_kinkgrad(mlp_loss_kinkgrad(params, X, y), params, lr)


def _sgd_kinkgrad(loss, params, lr):
    """Backward, then a plain SGD update in place (what every training step here ends with)."""
    loss.backward()
    for p in params:
        p.data -= lr * p.grad.data
        p.grad = None
    return loss


def _sgd_torch(loss, params, lr):
    import torch

    loss.backward()
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad
            p.grad = None
    return loss


def gradients(loss, params):
    """Backward through a kinkgrad or PyTorch loss; the parameters' gradients as NumPy arrays."""
    loss.backward()
    grads = [np.array(p.grad.numpy()) for p in params]       # (both tensor types have .numpy())
    for p in params:
        p.grad = None
    return grads


def mlp_loss_torch(params, X, y):
    import torch

    w1, b1, w2, b2, w3, b3 = params
    h = torch.relu(torch.addmm(b1, X, w1))
    h = torch.relu(torch.addmm(b2, h, w2))
    logits = torch.addmm(b3, h, w3)
    return torch.nn.functional.cross_entropy(logits, y)


def mlp_step_torch(params, X, y, lr=0.01):
    return _sgd_torch(mlp_loss_torch(params, X, y), params, lr)


def mlp_step_numpy(params, X, y, lr=0.01):
    """The same step written by hand in NumPy: the floor for any NumPy engine."""
    loss, grads = mlp_grads_numpy(params, X, y)
    for w, gw in zip(params, grads):
        w -= lr * gw
    return loss


def _column_sums(g):
    """A bias gradient as a matrix-vector product: NumPy's axis-0 sum of a tall, narrow array is up
    to 9x slower."""
    return np.ones(len(g), g.dtype) @ g


def mlp_grads_numpy(params, X, y):
    """Loss and gradients by hand: forward, then the chain rule written out."""
    w1, b1, w2, b2, w3, b3 = params
    a1 = X @ w1
    a1 += b1                                # bias added in place into the fresh product
    h1 = np.maximum(a1, 0)
    a2 = h1 @ w2
    a2 += b2
    h2 = np.maximum(a2, 0)
    logits = h2 @ w3
    logits += b3
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    p = e / e.sum(axis=1, keepdims=True)
    n = len(y)
    loss = -np.mean(np.log(p[np.arange(n), y]))
    g = p
    g[np.arange(n), y] -= 1
    g /= n
    gw3, gb3 = h2.T @ g, _column_sums(g)
    g = (g @ w3.T) * (a2 > 0)
    gw2, gb2 = h1.T @ g, _column_sums(g)
    g = (g @ w2.T) * (a1 > 0)
    gw1, gb1 = X.T @ g, _column_sums(g)
    return loss, [gw1, gb1, gw2, gb2, gw3, gb3]


# -- the CNN training step (batch 64, 1x28x28: conv16-pool-conv32-pool-dense10, SGD) -------------------
def cnn_data(seed=0, batch=64):
    rng = np.random.default_rng(seed)
    shapes = [(16, 1, 3, 3), (16,), (32, 16, 3, 3), (32,), (32 * 7 * 7, 10), (10,)]
    params = [(rng.standard_normal(s) * 0.1).astype(np.float32) for s in shapes]
    X = rng.standard_normal((batch, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    return params, X, y


def cnn_loss_kinkgrad(params, X, y):
    c1, b1, c2, b2, w, b = params
    h = kg.max_pool2d(kg.relu(kg.conv2d(X, c1, b1, padding=1)), 2)
    h = kg.max_pool2d(kg.relu(kg.conv2d(h, c2, b2, padding=1)), 2)
    logits = kg.affine(h.reshape(len(y), -1), w, b)
    return kg.mean(kg.softmax_cross_entropy(logits, y))


def cnn_step_kinkgrad(params, X, y, lr=0.01):
    return _sgd_kinkgrad(cnn_loss_kinkgrad(params, X, y), params, lr)


def cnn_loss_torch(params, X, y):
    import torch
    import torch.nn.functional as F

    c1, b1, c2, b2, w, b = params
    h = F.max_pool2d(torch.relu(F.conv2d(X, c1, b1, padding=1)), 2)
    h = F.max_pool2d(torch.relu(F.conv2d(h, c2, b2, padding=1)), 2)
    logits = torch.addmm(b, h.reshape(len(y), -1), w)
    return F.cross_entropy(logits, y)


def cnn_step_torch(params, X, y, lr=0.01):
    return _sgd_torch(cnn_loss_torch(params, X, y), params, lr)


def cnn_grads_numpy(params, X, y):
    """The CNN step's loss and gradients written by hand in NumPy, channels-last throughout, with
    the fastest NumPy kernels found for each piece: the floor for an im2col + GEMM engine."""
    c1, b1, c2, b2, w, b = params
    n = len(y)

    def im2col(xh):                                   # (n, h, w, c) -> (n*h*w, 9c), padding 1
        h_, w_, c = xh.shape[1:]
        xp = np.zeros((n, h_ + 2, w_ + 2, c), xh.dtype)
        xp[:, 1:-1, 1:-1] = xh
        if c >= 4:                                    # many channels: one copy of the window view
            v = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(1, 2))
            return np.ascontiguousarray(v.transpose(0, 1, 2, 4, 5, 3)).reshape(n * h_ * w_, 9 * c)
        cols = np.empty((n, h_, w_, 3, 3, c), xh.dtype)     # few: nine slice copies
        for i in range(3):
            for j in range(3):
                cols[:, :, :, i, j] = xp[:, i:i + h_, j:j + w_]
        return cols.reshape(n * h_ * w_, 9 * c)

    def pool(a):                                      # 2x2 max over (n, h, w, c)
        v = a.reshape(n, a.shape[1] // 2, 2, a.shape[2] // 2, 2, a.shape[3])
        top = np.maximum(v[:, :, 0, :, 0], v[:, :, 0, :, 1])
        return np.maximum(top, np.maximum(v[:, :, 1, :, 0], v[:, :, 1, :, 1]))

    def pool_back(a, o, g):
        # per window position, the maximum's mask times g, written into that position's slice; a
        # tied window here is all zeros after the relu, whose slope 0 makes the split irrelevant
        ga = np.empty_like(a)
        for i in range(2):
            for j in range(2):
                np.multiply(a[:, i::2, j::2] == o, g, out=ga[:, i::2, j::2])
        return ga

    x = X.transpose(0, 2, 3, 1)
    k1 = c1.transpose(2, 3, 1, 0).reshape(-1, c1.shape[0])        # (9*1, 16) in (i, j, c) order
    k2 = c2.transpose(2, 3, 1, 0).reshape(-1, c2.shape[0])        # (9*16, 32)
    cols1 = im2col(x)
    a1 = cols1 @ k1
    a1 += b1
    r1 = np.maximum(a1, 0).reshape(n, 28, 28, -1)
    p1 = pool(r1)
    cols2 = im2col(p1)
    a2 = cols2 @ k2
    a2 += b2
    r2 = np.maximum(a2, 0).reshape(n, 14, 14, -1)
    p2 = pool(r2)
    h = p2.transpose(0, 3, 1, 2).reshape(n, -1)                    # PyTorch's (c, h, w) flatten order
    logits = h @ w
    logits += b
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    p = e / e.sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(p[np.arange(n), y]))
    g = p
    g[np.arange(n), y] -= 1
    g /= n
    gw, gb = h.T @ g, _column_sums(g)
    gp2 = np.ascontiguousarray((g @ w.T).reshape(n, -1, 7, 7).transpose(0, 2, 3, 1))
    ga2 = (pool_back(r2, p2, gp2) * (r2 > 0)).reshape(n * 196, -1)
    gk2, gb2 = cols2.T @ ga2, _column_sums(ga2)
    # d cols2 one kernel tap at a time, an (n*196, 16) block in one reused buffer, each added onto
    # the padded image (never the whole (n*196, 144) matrix)
    per_tap = np.ascontiguousarray(k2.reshape(9, -1, k2.shape[1]).transpose(0, 2, 1))    # (9, 32, 16)
    gp1 = np.zeros((n, 16, 16, per_tap.shape[2]), np.float32)
    buf = np.empty((len(ga2), per_tap.shape[2]), np.float32)
    for i in range(3):
        for j in range(3):
            np.matmul(ga2, per_tap[3 * i + j], out=buf)
            gp1[:, i:i + 14, j:j + 14] += buf.reshape(n, 14, 14, -1)
    ga1 = (pool_back(r1, p1, gp1[:, 1:-1, 1:-1]) * (r1 > 0)).reshape(n * 784, -1)
    gk1, gb1 = cols1.T @ ga1, _column_sums(ga1)
    back = [gk1.reshape(3, 3, 1, -1).transpose(3, 2, 0, 1), gb1, gk2.reshape(3, 3, 16, -1).transpose(3, 2, 0, 1),
            gb2, gw, gb]
    return loss, [np.ascontiguousarray(a) for a in back]


def cnn_step_numpy(params, X, y, lr=0.01):
    loss, grads = cnn_grads_numpy(params, X, y)
    for p, gp in zip(params, grads):
        p -= lr * gp
    return loss
