"""ONNX convolutions, pooling and normalisation as kinkgrad ops (1-D and 2-D; layouts N, C, ...).

MaxPool is ``ops.max_pool2d`` (ties in a window follow its rule: the first element under the
``torch``, ``jax`` and ``tensorflow`` presets), after explicit ``-inf`` padding where the ONNX pads
are asymmetric or ``ceil_mode`` adds a partial window. Shapes and padding follow the ONNX operator
specification (onnx.ai/onnx/operators: Conv, ConvTranspose, MaxPool, AveragePool).
"""
from __future__ import annotations

import math

import numpy as np

from .. import ops
from ..ops.factories import tensor
from .optable import all_checks, attr_choice, op

_AUTO_PAD = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")


def _spatial(n, x):
    """The number of spatial axes, refusing what the kinkgrad kernels do not cover (3-D and up)."""
    d = x.ndim - 2
    if d not in (1, 2):
        raise n.unsupported(f"a {x.ndim}-D input (shape {x.shape})", "1-D and 2-D (N, C, L) / (N, C, H, W) inputs")
    return d


def _as_2d(x, d):
    return ops.expand_dims(x, 2) if d == 1 else x


def _ints(n, name, d, default):
    v = n.attrs.get(name)
    return tuple(int(i) for i in v) if v is not None else (default,) * d


def _pads(n, d, in_sizes, kernel, strides, dilations):
    """((begin, end) per spatial axis) from ``pads`` or ``auto_pad`` (the SAME rules: output = ceil(in / s))."""
    mode = n.attrs["auto_pad"]
    if mode in ("NOTSET",):
        p = _ints(n, "pads", 2 * d, 0)
        return tuple((p[i], p[i + d]) for i in range(d))
    if mode == "VALID":
        return ((0, 0),) * d
    out = []
    for size, k, s, dl in zip(in_sizes, kernel, strides, dilations):
        total = max((math.ceil(size / s) - 1) * s + (k - 1) * dl + 1 - size, 0)
        small, big = total // 2, total - total // 2
        out.append((small, big) if mode == "SAME_UPPER" else (big, small))
    return tuple(out)


def _check_1d_2d(n):
    ks = n.attrs.get("kernel_shape")
    if ks is not None and len(ks) not in (1, 2):
        raise n.unsupported(f"kernel_shape={list(ks)} ({len(ks)}-D)", "1-D and 2-D kernels")


def _pad_to_2d(pads, d):
    return ((0, 0),) + tuple(pads) if d == 1 else tuple(pads)


def _explicit_pad(x, pads, value):
    """Pad the spatial axes of a 4-D tensor by ((top, bottom), (left, right)), ``value`` outside."""
    if not any(lo or hi for lo, hi in pads):
        return x
    return ops.pad(x, ((0, 0), (0, 0)) + tuple(pads), value=value)


# -- convolutions -----------------------------------------------------------------------------------
_CONV_ATTRS = {"auto_pad": "NOTSET", "dilations": None, "group": 1, "kernel_shape": None, "pads": None,
               "strides": None}


@op("Conv", attrs=_CONV_ATTRS, check=all_checks(attr_choice("auto_pad", _AUTO_PAD), _check_1d_2d))
def conv(n, x, w, b=None):
    """ops.conv2d (groups, dilation, strides); asymmetric pads applied first as explicit zero padding."""
    d = _spatial(n, x)
    kernel = tuple(w.shape[2:])
    strides, dilations = _ints(n, "strides", d, 1), _ints(n, "dilations", d, 1)
    pads = _pad_to_2d(_pads(n, d, x.shape[2:], kernel, strides, dilations), d)
    x2, w2 = _as_2d(x, d), _as_2d(w, d)
    strides, dilations = (1,) * (2 - d) + strides, (1,) * (2 - d) + dilations
    if all(lo == hi for lo, hi in pads):
        y = ops.conv2d(x2, w2, b, strides, tuple(lo for lo, _ in pads), dilations, n.attrs["group"])
    else:
        y = ops.conv2d(_explicit_pad(x2, pads, 0.0), w2, b, strides, 0, dilations, n.attrs["group"])
    return ops.squeeze(y, 2) if d == 1 else y


def _check_conv_transpose(n):
    attr_choice("auto_pad", _AUTO_PAD)(n)
    _check_1d_2d(n)


@op("ConvTranspose", attrs={**_CONV_ATTRS, "output_padding": None, "output_shape": None},
    check=_check_conv_transpose)
def conv_transpose(n, x, w, b=None):
    """ops.conv_transpose2d; ``output_shape`` / ``auto_pad`` turned into pads as the specification says."""
    d = _spatial(n, x)
    kernel = tuple(w.shape[2:])
    strides, dilations = _ints(n, "strides", d, 1), _ints(n, "dilations", d, 1)
    out_pad = _ints(n, "output_padding", d, 0)
    out_shape = n.attrs.get("output_shape")
    if out_shape is not None or n.attrs["auto_pad"] in ("SAME_UPPER", "SAME_LOWER"):
        target = tuple(out_shape)[-d:] if out_shape is not None else tuple(s * st for s, st in
                                                                               zip(x.shape[2:], strides))
        pads = []
        for i in range(d):
            total = strides[i] * (x.shape[2 + i] - 1) + out_pad[i] + (kernel[i] - 1) * dilations[i] + 1 - target[i]
            if total < 0:
                raise n.error(f"output_shape {target} is larger than this transposed convolution can produce")
            half = total // 2
            pads.append((half, total - half) if n.attrs["auto_pad"] == "SAME_UPPER" else (total - half, half))
    elif n.attrs["auto_pad"] == "VALID":
        pads = [(0, 0)] * d
    else:
        p = _ints(n, "pads", 2 * d, 0)
        pads = [(p[i], p[i + d]) for i in range(d)]
    pads = _pad_to_2d(pads, d)
    y = ops.conv_transpose2d(_as_2d(x, d), _as_2d(w, d), b, (1,) * (2 - d) + strides, pads,
                            (0,) * (2 - d) + out_pad, n.attrs["group"], (1,) * (2 - d) + dilations)
    return ops.squeeze(y, 2) if d == 1 else y


# -- pooling --------------------------------------------------------------------------------------
def _check_pool(n):
    attr_choice("auto_pad", _AUTO_PAD)(n)
    _check_1d_2d(n)
    if n.attrs.get("kernel_shape") is None:
        raise n.error("kernel_shape is required")
    dil = n.attrs.get("dilations")
    if dil is not None and any(v != 1 for v in dil):
        raise n.unsupported(f"dilations={list(dil)}", "dilations of 1 (kinkgrad's pooling has no dilation)")


def _check_max_pool(n):
    _check_pool(n)
    if n.n_outputs > 1:
        raise n.unsupported("the Indices output", "the pooled values only (one output)")


def _pool_geometry(n, x):
    """(d, kernel, strides, pads) with the partial windows of ceil_mode added as extra end padding."""
    d = _spatial(n, x)
    kernel = tuple(n.attrs["kernel_shape"])
    strides = _ints(n, "strides", d, 1)
    pads = _pads(n, d, x.shape[2:], kernel, strides, (1,) * d)
    if n.attrs["ceil_mode"]:
        grown = []
        for size, k, s, (lo, hi) in zip(x.shape[2:], kernel, strides, pads):
            out = math.ceil((size + lo + hi - k) / s) + 1
            if (out - 1) * s >= size + lo:        # the last window must start inside the input or its left pad
                out -= 1
            grown.append((lo, max(hi, (out - 1) * s + k - size - lo)))
        pads = tuple(grown)
    return d, (1,) * (2 - d) + kernel, (1,) * (2 - d) + strides, _pad_to_2d(pads, d)


_POOL_ATTRS = {"auto_pad": "NOTSET", "ceil_mode": 0, "dilations": None, "kernel_shape": None, "pads": None,
               "strides": None}


@op("MaxPool", attrs={**_POOL_ATTRS, "storage_order": 0}, check=_check_max_pool)
def max_pool(n, x):
    """ops.max_pool2d: ties in a window follow the max_pool2d rule; padding is -inf (never the max)."""
    d, kernel, strides, pads = _pool_geometry(n, x)
    x2 = _as_2d(x, d)
    if all(lo == hi for lo, hi in pads):
        y = ops.max_pool2d(x2, kernel, strides, tuple(lo for lo, _ in pads))
    else:
        y = ops.max_pool2d(_explicit_pad(x2, pads, -np.inf), kernel, strides, 0)
    return ops.squeeze(y, 2) if d == 1 else y


@op("AveragePool", attrs={**_POOL_ATTRS, "count_include_pad": 0}, check=_check_pool)
def average_pool(n, x):
    """Window sums over the zero-padded input divided by each window's count: all the window's
    positions inside the explicit padding (count_include_pad=1) or only the input's (=0)."""
    d, kernel, strides, pads = _pool_geometry(n, x)
    x2 = _as_2d(x, d)
    explicit = _pads(n, d, x.shape[2:], kernel[2 - d:], strides[2 - d:], (1,) * d)
    no_pads = not any(lo or hi for lo, hi in pads)
    if no_pads or (n.attrs["count_include_pad"] and pads == _pad_to_2d(explicit, d)
                   and all(lo == hi for lo, hi in pads)):
        y = ops.avg_pool2d(x2, kernel, strides, tuple(lo for lo, _ in pads))
    else:
        area = kernel[0] * kernel[1]
        sums = ops.avg_pool2d(_explicit_pad(x2, pads, 0.0), kernel, strides, 0) * float(area)
        h, w = x2.shape[2:]
        inside = np.zeros((1, 1, h + sum(pads[0]), w + sum(pads[1])), dtype=x.dtype)
        if n.attrs["count_include_pad"]:
            ex = _pad_to_2d(explicit, d)
            inside[..., :pads[0][0] + h + ex[0][1], :pads[1][0] + w + ex[1][1]] = 1
        else:
            inside[..., pads[0][0]:pads[0][0] + h, pads[1][0]:pads[1][0] + w] = 1
        counts = ops.avg_pool2d(tensor(inside), kernel, strides, 0).numpy() * area
        y = sums / np.maximum(counts, 1).astype(x.dtype)
    return ops.squeeze(y, 2) if d == 1 else y


@op("GlobalAveragePool")
def global_average_pool(n, x):
    return ops.mean(x, axis=tuple(range(2, x.ndim)), keepdims=True)


@op("GlobalMaxPool")
def global_max_pool(n, x):
    """One max-pool window over the whole image (the max_pool2d tie rule)."""
    d = _spatial(n, x)
    x2 = _as_2d(x, d)
    y = ops.max_pool2d(x2, x2.shape[2:])
    return ops.squeeze(y, 2) if d == 1 else y


# -- normalisation --------------------------------------------------------------------------------
def _per_channel(v, ndim):
    return ops.reshape(v, (1, -1) + (1,) * (ndim - 2))


@op("BatchNormalization", attrs={"epsilon": 1e-5, "momentum": 0.9, "training_mode": 0}, statistics=(3, 4))
def batch_norm(n, x, scale, bias, mean, var):
    """Inference: the stored statistics, as x * a + (bias - mean * a) with a = scale / sqrt(var + eps).
    Training mode: batch statistics (population variance), and the running statistics as extra outputs."""
    eps = n.attrs["epsilon"]
    training = n.attrs["training_mode"] or (n.opset < 14 and n.n_outputs > 1)
    if not training:
        a = scale / ops.sqrt(var + eps)
        return x * _per_channel(a, x.ndim) + _per_channel(bias - mean * a, x.ndim)
    axes = (0,) + tuple(range(2, x.ndim))
    mu = ops.mean(x, axis=axes, keepdims=True)
    sigma2 = ops.mean((x - mu) ** 2, axis=axes, keepdims=True)
    y = (x - mu) / ops.sqrt(sigma2 + eps) * _per_channel(scale, x.ndim) + _per_channel(bias, x.ndim)
    m = n.attrs["momentum"]
    running_mean = mean * m + ops.reshape(mu, (-1,)) * (1 - m)
    running_var = var * m + ops.reshape(sigma2, (-1,)) * (1 - m)
    return y, running_mean, running_var


@op("LayerNormalization", attrs={"axis": -1, "epsilon": 1e-5, "stash_type": 1})
def layer_norm(n, x, scale, bias=None):
    """Normalise over the axes from ``axis`` on; outputs Y, Mean and InvStdDev (kept dimensions)."""
    axis = n.attrs["axis"] % x.ndim
    axes = tuple(range(axis, x.ndim))
    mu = ops.mean(x, axis=axes, keepdims=True)
    centered = x - mu
    inv_std = 1.0 / ops.sqrt(ops.mean(centered * centered, axis=axes, keepdims=True) + n.attrs["epsilon"])
    y = centered * inv_std * scale
    if bias is not None:
        y = y + bias
    return y, mu, inv_std


@op("InstanceNormalization", attrs={"epsilon": 1e-5})
def instance_norm(n, x, scale, bias):
    axes = tuple(range(2, x.ndim))
    mu = ops.mean(x, axis=axes, keepdims=True)
    centered = x - mu
    y = centered / ops.sqrt(ops.mean(centered * centered, axis=axes, keepdims=True) + n.attrs["epsilon"])
    return y * _per_channel(scale, x.ndim) + _per_channel(bias, x.ndim)
