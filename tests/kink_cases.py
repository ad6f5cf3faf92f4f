"""The oracle's ops as kinkgrad functions, and how to read the oracle's ``point`` strings.

``tests/data/kink_conventions.json`` (a copy of the measured oracle) has one record per
(op, point, dtype, wrt, framework). This module turns a record into something kinkgrad can run:

* ``OPS[op]``: a ``KinkCase`` whose ``fn`` takes the oracle's inputs *in the oracle's order*
  (``x``; ``a, b``; ``x, p``; ``pred, true``) as kinkgrad tensors and returns the op's output;
  ``None`` with a ``reason`` when kinkgrad does not provide the op;
* ``parse_point(point)``: the inputs, as an ordered ``{name: float64 ndarray}``;
* ``fn_for(op, framework)``: the callable to use for one framework's record (softplus differs);
* ``value_of(record)``: the record's value as a float ndarray (``"nan"``/``"inf"``/``"-inf"``
  strings decoded), or None when it is ``"none"``, ``"error: ..."`` or ``"n/a: ..."``;
* ``weights_of(record)``: the cotangent weights (None for ``ones``).

The gradient a record reports is that of ``sum(w * f(inputs))`` with respect to the input named
``wrt`` (reverse mode), or, for ``*.jvp`` frameworks, the JVP with basis tangent e_i on that input
(zero tangents on the others) contracted with the same ``w``, one element i at a time.

Mapping notes (why each op maps where it does):

* ``clip(x, min=0) (clamp_min)``: ``kg.clip(x, 0.0, None)``; ``hardtanh(x) [-1,1]``: ``kg.hardtanh``
  (its own op: frameworks treat hardtanh and clip differently at the bounds).
* ``max(x, dim=0).values`` / ``min(...)``: ``kg.max(x, axis=0, return_indices=True)[0]``: the values
  of the (values, indices) form, whose ties follow the ``max.indices`` rule (torch: first).
* ``float(x > 0)``: ``(x > 0).astype(x.dtype)`` and ``float(argmax(x))``:
  ``kg.argmax(x).astype(x.dtype)``: the gradient is cut (0, with a NonDifferentiableWarning).
* ``x[argmax(x)]``: ``x[kg.argmax(x)]`` (a plain gather at the first maximum).
* ``L1 norm(x) (ord=1)``: ``kg.linalg.norm(x, ord=1)``; ``L2 norm(x)``: ``kg.linalg.norm(x)``.
* Losses: the oracle calls ``loss(pred, true)`` (PyTorch order); kinkgrad's losses use Keras order
  ``loss(y_true, y_pred)``, so ``fn(pred, true) = kg.losses.mae(true, pred)`` etc.; all reduce
  by the mean, like the oracle's ``F.l1_loss`` / ``F.huber_loss`` / ``F.smooth_l1_loss``.
* ``max_pool2d 2x2``: the oracle's input is one 2x2 window; it is reshaped to (1, 1, 2, 2) inside
  ``fn`` so the gradient keeps the oracle's 2x2 shape.
* ``softplus(x)``: PyTorch's ``F.softplus`` has ``threshold=20``: it *returns x* where
  ``beta * x > 20``, so at x = 20.5 its slope is exactly 1 while the true slope is
  sigmoid(20.5) = 1 - 1.25e-9. That is a different forward function (a shortcut in the value), not a
  convention at a kink, and a kink preset never changes forward values. So the ``torch`` rows map
  to ``kg.softplus(x, threshold=20)`` (the function PyTorch actually computes) and the jax / tf
  rows to the exact ``kg.softplus(x)``; ``fn_for`` picks by framework.
* ``sort(x, stable=True)``: ``kg.sort`` (always stable); ``heaviside(x, 0.5)``:
  ``kg.heaviside(x, value=0.5)`` (primitive parameters are keywords; a positional argument would be
  taken as a second input).
* Not provided: ``median(x, dim=0).values`` (see ``OPS``).
"""
from __future__ import annotations

import ast
import json
import math
import pathlib
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

import kinkgrad as kg

DATA = pathlib.Path(__file__).parent / "data" / "kink_conventions.json"

REVERSE = {"torch": "torch", "jax.vjp": "jax", "tf": "tensorflow"}
FORWARD = {"torch.func.jvp": "torch", "jax.jvp": "jax", "tf.jvp": "tensorflow"}
PRESET_OF = {**REVERSE, **FORWARD}
REVERSE_OF_FORWARD = {"torch.func.jvp": "torch", "jax.jvp": "jax.vjp", "tf.jvp": "tf"}


@dataclass(frozen=True)
class KinkCase:
    op: str
    fn: Optional[Callable]               # kinkgrad function of the inputs, in the oracle's order
    reason: str = ""                     # why fn is None (op not provided by kinkgrad)
    by_framework: dict = field(default_factory=dict)   # framework -> fn, where it differs
    # primitive: nonsmooth primitive(s) applied straight to the inputs, followed only by
    # nondecreasing maps (reshape, sum, mean, expm1...). Then the ``left`` / ``right`` presets
    # (which pick each primitive's one-sided derivative in its *own* argument) compose to the
    # one-sided derivatives of the whole function. In compositions like relu(-x) or |p - t| wrt t
    # the inner map reverses direction, so a primitive's left side is the function's right side:
    # those are not expected to match one-sided differences (the directional mode is for that).
    primitive: bool = False


def _c(op, fn, primitive=False, **kw):
    return op, KinkCase(op, fn, primitive=primitive, **kw)


def _softplus_torch(x):
    return kg.softplus(x, threshold=20)


def _maxpool(x):
    return kg.max_pool2d(x.reshape(1, 1, 2, 2), 2)


OPS = OrderedDict([
    # 1. activations
    _c("abs(x)", lambda x: kg.abs(x), True),
    _c("relu(x)", lambda x: kg.relu(x), True),
    _c("leaky_relu(x, 0.01)", lambda x: kg.leaky_relu(x, negative_slope=0.01), True),
    _c("relu6(x)", lambda x: kg.relu6(x), True),
    _c("hardtanh(x)  [-1,1]", lambda x: kg.hardtanh(x), True),
    _c("elu(x)  alpha=1", lambda x: kg.elu(x), True),
    _c("celu(x)  alpha=1", lambda x: kg.celu(x), True),
    _c("selu(x)", lambda x: kg.selu(x), True),
    _c("hardswish(x)", lambda x: kg.hardswish(x), True),
    _c("hardsigmoid(x)", lambda x: kg.hardsigmoid(x), True),
    _c("softplus(x)", lambda x: kg.softplus(x), True,
       by_framework={"torch": _softplus_torch, "torch.func.jvp": _softplus_torch}),
    # 2. steps, rounding, clipping
    _c("sign(x)", lambda x: kg.sign(x), True),
    _c("floor(x)", lambda x: kg.floor(x), True),
    _c("ceil(x)", lambda x: kg.ceil(x), True),
    _c("trunc(x)", lambda x: kg.trunc(x), True),
    _c("round(x)", lambda x: kg.round(x), True),
    _c("heaviside(x, 0.5)", lambda x: kg.heaviside(x, value=0.5), True),
    _c("float(x > 0)", lambda x: (x > 0).astype(x.dtype)),
    _c("clip(x, -1, 1)", lambda x: kg.clip(x, -1.0, 1.0), True),
    _c("clip(x, min=0)  (clamp_min)", lambda x: kg.clip(x, 0.0, None), True),
    # 3. max/min ties
    _c("maximum(a, b)", lambda a, b: kg.maximum(a, b), True),
    _c("minimum(a, b)", lambda a, b: kg.minimum(a, b), True),
    _c("maximum(x, 0.0)", lambda x: kg.maximum(x, 0.0), True),
    _c("max(x)  full reduction", lambda x: kg.max(x), True),
    _c("max(x, dim=0).values", lambda x: kg.max(x, axis=0, return_indices=True)[0], True),
    _c("amax(x)", lambda x: kg.amax(x), True),
    _c("min(x)  full reduction", lambda x: kg.min(x), True),
    _c("min(x, dim=0).values", lambda x: kg.min(x, axis=0, return_indices=True)[0], True),
    _c("amin(x)", lambda x: kg.amin(x), True),
    _c("float(argmax(x))", lambda x: kg.argmax(x).astype(x.dtype)),
    _c("x[argmax(x)]", lambda x: x[kg.argmax(x)]),
    # 4. order statistics
    _c("sort(x)", lambda x: kg.sort(x), True),
    _c("sort(x, stable=True)", lambda x: kg.sort(x), True),
    _c("topk(x, 1).values", lambda x: kg.topk(x, 1)[0], True),
    _c("topk(x, 2).values", lambda x: kg.topk(x, 2)[0], True),
    _c("median(x)", lambda x: kg.median(x), True),
    ("median(x, dim=0).values", KinkCase(
        "median(x, dim=0).values", None,
        reason="not provided: kinkgrad has no median-with-indices (PyTorch's median(x, dim) returns the "
               "lower median and its first index); kg.median(x, axis=0) is NumPy's mean-of-two median")),
    _c("quantile(x, 0.5)", lambda x: kg.quantile(x, 0.5), True),
    _c("quantile(x, 1.0)", lambda x: kg.quantile(x, 1.0), True),
    _c("cummax(x)", lambda x: kg.cummax(x, axis=0), True),
    # 5. singular points
    _c("sqrt(x)", lambda x: kg.sqrt(x), True),
    _c("x ** 0.5  (python float exponent)", lambda x: x ** 0.5, True),
    _c("x ** 1.0  (python float exponent)", lambda x: x ** 1.0, True),
    _c("x ** 2.0  (python float exponent)", lambda x: x ** 2.0, True),
    _c("x ** 0.0  (python float exponent)", lambda x: x ** 0.0, True),
    _c("x ** 0  (python int exponent)", lambda x: x ** 0, True),
    _c("pow(x, p)  (both tensors)", lambda x, p: x ** p, True),
    _c("log(x)", lambda x: kg.log(x), True),
    _c("L2 norm(x)", lambda x: kg.linalg.norm(x), True),
    _c("L1 norm(x)  (ord=1)", lambda x: kg.linalg.norm(x, ord=1), True),
    _c("x / abs(x)", lambda x: x / kg.abs(x)),
    _c("where(x > 0, sqrt(x), 0)", lambda x: kg.where(x > 0, kg.sqrt(x), 0.0)),
    _c("where(x > 0, sqrt(where(x > 0, x, 1)), 0)  (double-where)",
       lambda x: kg.where(x > 0, kg.sqrt(kg.where(x > 0, x, 1.0)), 0.0)),
    _c("where(x > 0, x, 0)", lambda x: kg.where(x > 0, x, 0.0)),
    _c("where(x >= 0, x, 0)", lambda x: kg.where(x >= 0, x, 0.0)),
    # 6. pooling
    _c("max_pool2d 2x2", _maxpool, True),
    # 7. losses (oracle order pred, true; kinkgrad order y_true, y_pred)
    _c("L1 / MAE loss(pred, true)", lambda pred, true: kg.losses.mae(true, pred)),
    _c("huber(pred, true, delta=1)", lambda pred, true: kg.losses.huber(true, pred, delta=1.0)),
    _c("smooth_l1(pred, true, beta=1)", lambda pred, true: kg.losses.smooth_l1(true, pred, beta=1.0)),
    _c("smooth_l1(pred, true, beta=0)", lambda pred, true: kg.losses.smooth_l1(true, pred, beta=0.0)),
    # 8. composites
    _c("relu(x) - relu(-x)  [= x, true d/dx = 1; Kakade-Lee-style]", lambda x: kg.relu(x) - kg.relu(-x)),
    _c("relu(-x) + x  [= relu(x)]", lambda x: kg.relu(-x) + x),
    _c("relu(x) + relu(-x)  [= abs(x)]", lambda x: kg.relu(x) + kg.relu(-x)),
    _c("abs(x) - abs(-x)  [= 0, true d/dx = 0]", lambda x: kg.abs(x) - kg.abs(-x)),
    _c("abs(x) - relu(x) - relu(-x)  [= 0]", lambda x: kg.abs(x) - kg.relu(x) - kg.relu(-x)),
    _c("maximum(x,0) - maximum(-x,0)  [= x, true d/dx = 1]", lambda x: kg.maximum(x, 0.0) - kg.maximum(-x, 0.0)),
    _c("x * sign(x)  [= abs(x)]", lambda x: x * kg.sign(x)),
])

NOT_PROVIDED = {op: c.reason for op, c in OPS.items() if c.fn is None}

# ops whose kinks are ties among several candidates (reductions, order statistics, pooling)
TIE_OPS = {"max(x)  full reduction", "max(x, dim=0).values", "amax(x)", "min(x)  full reduction",
           "min(x, dim=0).values", "amin(x)", "sort(x)", "sort(x, stable=True)", "topk(x, 1).values",
           "topk(x, 2).values", "median(x)", "median(x, dim=0).values", "quantile(x, 0.5)",
           "quantile(x, 1.0)", "cummax(x)", "max_pool2d 2x2"}


def fn_for(op, framework=None):
    case = OPS[op]
    return case.by_framework.get(framework, case.fn)


# -- points -------------------------------------------------------------------------------------


def _literal(text):
    v = ast.literal_eval(text.strip())
    return np.asarray(v, dtype=np.float64)


def parse_point(point):
    """``'x=0'``, ``'x=-0.0'``, ``'a=b=1'``, ``'x=[1,3,3,2]'``, ``'x=0, p=0.5'``,
    ``'x=[3,1,2,2] (even n, tie in middle)'``, ``'pred=true=[1,2]'``,
    ``'pred-true=+1 (pred=[2], true=[1])'`` -> ordered {name: float64 ndarray}."""
    m = re.fullmatch(r"\s*[\w-]+=[-+]?\d+\s*\((.*)\)\s*", point)
    if m and "-" in point.split("=")[0]:
        # 'pred-true=+1 (pred=[2], true=[1])': the parenthesis holds the actual inputs
        point = m.group(1)
    else:
        point = re.sub(r"\s*\([^()]*\)\s*$", "", point)   # drop a trailing comment '(even n, ...)'
    out = OrderedDict()
    # split on commas that are not inside brackets
    parts, depth, cur = [], 0, ""
    for ch in point:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    for part in parts:
        *names, value = [s.strip() for s in part.split("=")]
        if not names:
            raise ValueError(f"cannot parse point {point!r}")
        arr = _literal(value)
        for n in names:
            out[n] = arr.copy()
    return out


def inputs_for(record, dtype=None):
    """The record's inputs as ndarrays of ``dtype`` (the record's dtype by default)."""
    dt = np.dtype(dtype or record["dtype"])
    return OrderedDict((k, v.astype(dt)) for k, v in parse_point(record["point"]).items())


# -- values ---------------------------------------------------------------------------------------
def _decode(v):
    if isinstance(v, list):
        return [_decode(e) for e in v]
    if isinstance(v, str):
        return {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}[v]
    return float(v)


def is_missing(value):
    """``"none"``, ``"error: ..."`` and ``"n/a: ..."``: the framework gave no number."""
    return isinstance(value, str) and (value == "none" or value.startswith("error:") or value.startswith("n/a:"))


def value_of(record):
    v = record["value"]
    if is_missing(v):
        return None
    return np.asarray(_decode(v), dtype=np.float64)


def weights_of(record):
    c = record["cotangent"]
    if c == "ones":
        return None
    assert c.startswith("w="), c
    return np.asarray(json.loads(c[2:]), dtype=np.float64)


def load_records():
    with open(DATA) as fh:
        return json.load(fh)


# -- running kinkgrad on a record ---------------------------------------------------------------------
def _cotangent(w, out_shape, dtype):
    if w is None:
        return np.ones(out_shape, dtype=dtype)
    return np.asarray(w, dtype=dtype).reshape(out_shape)


def reverse_value(fn, inputs, wrt, w, preset=None, **policy):
    """d sum(w * fn(inputs)) / d inputs[wrt] by ``kg.vjp`` (inside ``kg.kinks(preset, **policy)``)."""
    names = list(inputs)
    xs = [inputs[n] for n in names]
    with kg.kinks(preset, **policy):
        out, pullback = kg.vjp(fn, *xs)
        cts = pullback(_cotangent(w, out.shape, out.dtype))
    return np.asarray(cts[names.index(wrt)].data)


def forward_value(fn, inputs, wrt, w, preset=None, **policy):
    """The oracle's forward-mode gradient: for each element i of ``inputs[wrt]``, ``kg.jvp`` with
    tangent e_i on that input and zero tangents on the others, contracted with ``w`` in the dtype."""
    names = list(inputs)
    xs = [inputs[n] for n in names]
    k = names.index(wrt)
    x = xs[k]
    g = np.zeros(x.size, dtype=x.dtype)
    with kg.kinks(preset, **policy):
        for i in range(x.size):
            tans = [np.zeros_like(v) for v in xs]
            e = np.zeros(x.size, dtype=x.dtype)
            e[i] = 1
            tans[k] = e.reshape(x.shape)
            _, jv = kg.jvp(fn, tuple(xs), tuple(tans))
            jv = np.asarray(jv.data)
            if w is None:
                g[i] = jv.sum(dtype=jv.dtype)
            else:
                g[i] = (np.asarray(w, dtype=jv.dtype).reshape(jv.shape) * jv).sum()
    return g.reshape(x.shape)
