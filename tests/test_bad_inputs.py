"""The bad-input corpus: one malformed call per case, each asserting exactly one outcome.

A user who passes the wrong shape, dtype, keyword, axis, policy word or file must get one of:

* ``raises``: a specific exception whose message names the op or argument (and, for shape errors,
  the shapes) -- never an internal AttributeError/KeyError/TypeError surfacing from deep inside;
* ``warns``: a named warning saying what went wrong, and a sensible result;
* ``torch_answer``: the answer PyTorch 2.13 gives (values, dtype and gradients), silently, as PyTorch
  does -- for NaN/inf inputs, empty arrays, integer/bool/float16 data that PyTorch accepts;
* ``same_as_copy``: a non-contiguous or negative-stride NumPy view gives the values and gradients
  of its contiguous copy.

Cases that fail on today's engine carry a strict xfail whose reason says what happens now; a fix
flips the case to XPASS, which fails the suite until the mark is removed. The corpus is one table
(about 250 rows) by design, so the file runs past the usual length: splitting it by class would
only scatter the one place that lists how each kind of bad input is handled.
"""
from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import kinkgrad as kg
from kinkgrad import losses, nn, optim


# -- expectations ---------------------------------------------------------------------------------------
def _run(call, tmp_path):
    return call(tmp_path) if inspect.signature(call).parameters else call()


def _names_everything(message, words):
    missing = [w for w in words if w.lower() not in message.lower()]
    assert not missing, f"the message does not name {missing}: {message!r}"


class raises:
    """The call raises ``exc`` (or a subclass) whose message names every one of ``words``."""

    def __init__(self, exc, call, *words):
        self.exc, self.call, self.words = exc, call, words

    def check(self, tmp_path):
        with pytest.raises(self.exc) as info:
            _run(self.call, tmp_path)
        _names_everything(str(info.value), self.words)


class warns:
    """The call warns with ``warning`` naming every one of ``words``; ``then(result)`` checks the result."""

    def __init__(self, warning, call, *words, then=None):
        self.warning, self.call, self.words, self.then = warning, call, words, then

    def check(self, tmp_path):
        with pytest.warns(self.warning) as record:
            result = _run(self.call, tmp_path)
        messages = [str(w.message) for w in record if issubclass(w.category, self.warning)]
        assert any(all(x.lower() in m.lower() for x in self.words) for m in messages), \
            f"no {self.warning.__name__} names {self.words}: {messages}"
        if self.then is not None:
            self.then(result)


# float16: 2 ulp at 1 (2^-10 ~ 1e-3); float32: NumPy's and PyTorch's kernels round transcendental
# functions and sums differently by a few dozen ulp of 2^-23 at most; float64 the same at 2^-52
_RTOL = {np.dtype(np.float16): 2e-3, np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}


def _numpy_dtype(torch_dtype):
    return torch.empty(0, dtype=torch_dtype).numpy().dtype


def _assert_same_numbers(ours, theirs, what):
    ours = np.asarray(ours)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape}, PyTorch gives {theirs.shape}"
    assert ours.dtype == theirs.dtype, f"{what}: dtype {ours.dtype}, PyTorch gives {theirs.dtype}"
    if theirs.dtype.kind == "f":
        tol = _RTOL[theirs.dtype]
        np.testing.assert_allclose(ours.astype(np.float64), theirs.astype(np.float64), rtol=tol, atol=tol,
                                   equal_nan=True, err_msg=what)
    else:
        np.testing.assert_array_equal(ours, theirs, err_msg=what)


class torch_answer:
    """``kg_fn`` and ``torch_fn`` on the same NumPy inputs agree on values and dtype and, with
    ``grad``, on the gradient of the sum of the outputs w.r.t. every floating-point array input;
    and, like PyTorch, kinkgrad says nothing (no NumPy floating-point warning escapes)."""

    def __init__(self, kg_fn, torch_fn, *inputs, grad=True, numpy_dtype=None, numpy_warns=False):
        self.kg_fn, self.torch_fn, self.inputs, self.grad = kg_fn, torch_fn, inputs, grad
        # kinkgrad's two documented departures from PyTorch, both NumPy's rules (NumPy is the engine):
        # integer/bool data promote as NumPy promotes them (``numpy_dtype``: the dtype NumPy gives),
        # and NumPy's floating-point RuntimeWarnings (log(0), inf - inf...) reach the user
        self.numpy_dtype, self.numpy_warns = numpy_dtype, numpy_warns

    def _wants_grad(self, a):
        return self.grad and isinstance(a, np.ndarray) and a.dtype.kind == "f"

    @staticmethod
    def _differentiated(inputs):
        return [t for t in inputs if isinstance(t, torch.Tensor) and t.requires_grad]

    def check(self, tmp_path):
        ours_in = [kg.tensor(a, requires_grad=self._wants_grad(a)) if isinstance(a, np.ndarray) else a
                   for a in self.inputs]
        theirs_in = [torch.tensor(np.ascontiguousarray(a), requires_grad=self._wants_grad(a))
                     if isinstance(a, np.ndarray) else a for a in self.inputs]
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            if self.numpy_warns:
                warnings.simplefilter("ignore", RuntimeWarning)
            ours = self.kg_fn(*ours_in)
            if self._differentiated(theirs_in):
                kg.sum(ours).backward()
        theirs = self.torch_fn(*theirs_in)
        ref = theirs.detach().numpy()
        if self.numpy_dtype is not None:     # compared in the coarser of the two dtypes
            assert ours.dtype == self.numpy_dtype, \
                f"value: dtype {ours.dtype}, NumPy's promotion gives {self.numpy_dtype}"
            coarse = min(ours.dtype, ref.dtype, key=lambda d: np.finfo(d).bits)
            ours, ref = ours.data.astype(coarse), ref.astype(coarse)
        _assert_same_numbers(ours, ref, "value")
        if not self._differentiated(theirs_in):
            return
        theirs.sum().backward()
        for i, (o, t) in enumerate(zip(ours_in, theirs_in)):
            if isinstance(t, torch.Tensor) and t.requires_grad:
                expected = t.grad.numpy() if t.grad is not None else np.zeros(t.shape, _numpy_dtype(t.dtype))
                got = o.grad if o.grad is not None else np.zeros_like(o.data)
                _assert_same_numbers(got, expected, f"gradient w.r.t. input {i}")


class same_as_copy:
    """``fn`` on NumPy views (wrapped without copying, strides kept) gives the values and the
    gradients that it gives on contiguous copies of them."""

    def __init__(self, fn, *views):
        self.fn, self.views = fn, views

    @staticmethod
    def _values_and_grads(fn, arrays):
        ts = [kg.as_tensor(a).requires_grad_(True) for a in arrays]
        out = fn(*ts)
        kg.sum(out).backward()
        return np.array(out.data), [np.array(t.grad.data) for t in ts]

    def check(self, tmp_path):
        assert any(not v.flags.c_contiguous or min(v.strides, default=0) <= 0 or not v.dtype.isnative
                   for v in self.views), "a same_as_copy case needs a strided, reversed or byte-swapped view"
        ours, ours_g = self._values_and_grads(self.fn, self.views)
        ref, ref_g = self._values_and_grads(self.fn, [np.ascontiguousarray(v) for v in self.views])
        # float64 inputs: only the summation order may differ between a strided and a contiguous walk
        np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-12, err_msg="value")
        for i, (a, b) in enumerate(zip(ours_g, ref_g)):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=f"gradient w.r.t. view {i}")


def case(name, expectation, xfail=None):
    """One row of the corpus; ``xfail``: what happens today, for a case the engine does not meet yet."""
    marks = [pytest.mark.xfail(strict=True, reason=xfail)] if xfail else []
    return pytest.param(expectation, id=name, marks=marks)


# -- inputs -----------------------------------------------------------------------------------------------
def f32(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def f64(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def arr(values, dtype=np.float32):
    return np.array(values, dtype=dtype)


def t32(*shape, seed=0, requires_grad=False):
    return kg.tensor(f32(*shape, seed=seed), requires_grad=requires_grad)


def _enter(scope):
    with scope:
        pass


# -- shapes: an error naming the op and both shapes -------------------------------------------------------
SHAPES = [
    case("shape-ragged-list-mean", raises(ValueError, lambda: kg.mean([t32(2), 1.0]), "mean", "(2,)", "()")),
    case("shape-ragged-list-max", raises(ValueError, lambda: kg.max([t32(2), 1.0]), "max", "(2,)", "()")),
    case("shape-ragged-list-as_tensor", raises(ValueError, lambda: kg.as_tensor([t32(2), 1.0]), "as_tensor", "(2,)")),
    case("shape-ragged-list-exp", raises(ValueError, lambda: kg.exp([t32(2), 1.0]), "exp", "different shapes")),
    case("shape-add-broadcast", raises(ValueError, lambda: kg.add(t32(2, 3), t32(4)), "add", "(2, 3)", "(4,)")),
    case("shape-mul-operator", raises(ValueError, lambda: t32(3) * t32(2), "multiply", "(3,)", "(2,)")),
    case("shape-sub-transposed", raises(ValueError, lambda: t32(2, 3) - t32(3, 2), "subtract", "(2, 3)", "(3, 2)")),
    case("shape-maximum", raises(ValueError, lambda: kg.maximum(t32(2, 3), t32(2)), "maximum", "(2, 3)", "(2,)")),
    case("shape-where", raises(ValueError, lambda: kg.where(t32(3) > 0, t32(2), t32(4)), "where", "(3,)", "(2,)")),
    case("shape-matmul-inner", raises(ValueError, lambda: kg.matmul(t32(2, 3), t32(4, 5)), "matmul", "(2, 3)",
                                      "(4, 5)")),
    case("shape-matmul-operator", raises(ValueError, lambda: t32(5, 3) @ t32(5, 3), "matmul", "(5, 3)")),
    case("shape-matmul-0d", raises(ValueError, lambda: kg.matmul(kg.tensor(2.0), t32(3)), "matmul", "()")),
    case("shape-dot", raises(ValueError, lambda: kg.dot(t32(3), t32(4)), "dot", "(3,)", "(4,)")),
    case("shape-einsum", raises(ValueError, lambda: kg.einsum("ij,jk->ik", t32(2, 3), t32(4, 5)), "einsum",
                                "(2, 3)", "(4, 5)")),
    case("shape-conv2d-rank2", raises(ValueError, lambda: kg.conv2d(t32(8, 8), t32(4, 3, 3, 3)), "conv2d",
                                      "(8, 8)")),
    case("shape-conv2d-channels", raises(ValueError, lambda: kg.conv2d(t32(1, 1, 8, 8), t32(4, 3, 3, 3)),
                                         "conv2d", "(1, 1, 8, 8)", "(4, 3, 3, 3)")),
    case("shape-conv2d-kernel-too-big", raises(ValueError, lambda: kg.conv2d(t32(1, 3, 2, 2), t32(4, 3, 3, 3)),
                                               "conv2d", "(3, 3)")),
    case("shape-conv2d-bias", raises(ValueError, lambda: kg.conv2d(t32(1, 3, 5, 5), t32(4, 3, 3, 3), t32(3)),
                                     "conv2d", "bias", "(3,)")),
    # PyTorch's conv2d takes an unbatched (C, H, W) input, as max_pool2d does here
    case("shape-conv2d-unbatched", torch_answer(kg.conv2d, F.conv2d, f32(3, 6, 6), f32(4, 3, 3, 3))),
    case("shape-max-pool2d-rank2", raises(ValueError, lambda: kg.max_pool2d(t32(8, 8), 2), "max_pool2d", "(8, 8)")),
    case("shape-max-pool2d-rank5", raises(ValueError, lambda: kg.max_pool2d(t32(1, 1, 1, 4, 4), 2), "max_pool2d",
                                          "(1, 1, 1, 4, 4)")),
    case("shape-max-pool2d-window", raises(ValueError, lambda: kg.max_pool2d(t32(1, 1, 2, 2), 3), "max_pool2d",
                                           "(3, 3)")),
    case("shape-avg-pool2d-zero-kernel", raises(ValueError, lambda: kg.avg_pool2d(t32(1, 1, 4, 4), 0),
                                                "avg_pool2d", "kernel_size")),
    case("shape-reshape-impossible", raises(ValueError, lambda: kg.reshape(t32(2, 3), (4,)), "reshape", "(2, 3)",
                                            "(4,)")),
    case("shape-reshape-two-minus-ones", raises(ValueError, lambda: t32(2, 3).reshape(-1, -1), "reshape",
                                                "(2, 3)")),
    case("shape-view", raises(ValueError, lambda: t32(6).view(4), "reshape", "(6,)", "(4,)")),
    case("shape-concatenate", raises(ValueError, lambda: kg.concatenate([t32(2, 3), t32(2, 4)], axis=0),
                                     "concatenate", "(2, 3)", "(2, 4)")),
    case("shape-stack", raises(ValueError, lambda: kg.stack([t32(3), t32(4)]), "stack", "(3,)", "(4,)")),
    case("shape-broadcast-to", raises(ValueError, lambda: kg.broadcast_to(t32(3), (2, 4)), "broadcast_to", "(3,)",
                                      "(2, 4)")),
    case("shape-squeeze-non-unit", raises(ValueError, lambda: kg.squeeze(t32(2, 3), axis=0), "squeeze",
                                          "(2, 3)")),
    case("shape-transpose-not-a-permutation", raises(ValueError, lambda: kg.transpose(t32(2, 3), (0, 0)),
                                                     "transpose", "(0, 0)")),
    case("shape-setitem", raises(ValueError, lambda: kg.zeros(4).__setitem__(slice(0, 2), kg.ones(3)), "setitem",
                                 "(2,)", "(3,)")),
    case("shape-softmax-cross-entropy", raises(ValueError, lambda: kg.softmax_cross_entropy(t32(4, 3), [0, 1]),
                                               "softmax_cross_entropy", "(4, 3)", "(2,)")),
    case("shape-mse", raises(ValueError, lambda: losses.mse(t32(4), t32(4, 1)), "mse", "(4,)", "(4, 1)")),
]


# -- dtypes: int/bool/object/complex/float16 data and string operands --------------------------------------
def _ints(*values):
    return np.array(values, dtype=np.int64)


DTYPES = [
    # integer data: PyTorch promotes to its default float32 for floating functions; kinkgrad, like NumPy,
    # to float64 (bool to float16): the values agree, the dtype is NumPy's (README: dtypes)
    case("dtype-int-exp", torch_answer(kg.exp, torch.exp, _ints(1, 2, 3), numpy_dtype=np.float64)),
    case("dtype-int-sqrt", torch_answer(kg.sqrt, torch.sqrt, _ints(1, 4, 9), numpy_dtype=np.float64)),
    case("dtype-int-sigmoid", torch_answer(kg.sigmoid, torch.sigmoid, _ints(-1, 0, 1), numpy_dtype=np.float64)),
    case("dtype-int-true-divide", torch_answer(kg.divide, torch.divide, _ints(1, 3), _ints(2, 4),
                                               numpy_dtype=np.float64)),
    case("dtype-int-relu", torch_answer(kg.relu, torch.relu, _ints(-2, 0, 3))),
    case("dtype-int-abs", torch_answer(kg.abs, torch.abs, _ints(-2, 0, 3))),
    case("dtype-int-add", torch_answer(kg.add, torch.add, _ints(1, 2), _ints(3, 4))),
    case("dtype-int-plus-float32", torch_answer(kg.add, torch.add, _ints(1, 2), arr([0.5, 0.25]),
                                                numpy_dtype=np.float64)),
    case("dtype-int-sum", torch_answer(kg.sum, torch.sum, _ints(1, 2, 3))),
    case("dtype-int-max", torch_answer(kg.max, torch.max, _ints(4, 9, 2))),
    case("dtype-int-sort", torch_answer(kg.sort, lambda x: torch.sort(x).values, _ints(3, 1, 2))),
    case("dtype-int-cumsum", torch_answer(lambda x: kg.cumsum(x, axis=0), lambda x: torch.cumsum(x, 0), _ints(1, 2))),
    case("dtype-int-matmul", torch_answer(kg.matmul, torch.matmul, _ints(1, 2, 3, 4).reshape(2, 2),
                                          _ints(5, 6, 7, 8).reshape(2, 2))),
    case("dtype-int-negative-power", raises(ValueError, lambda: kg.power(kg.tensor([2, 3]), -1), "power",
                                            "negative")),
    case("dtype-int-requires-grad", raises(TypeError, lambda: kg.tensor([1, 2], requires_grad=True),
                                           "floating-point", "int64")),
    case("dtype-int-requires-grad-method", raises(TypeError, lambda: kg.tensor([1, 2]).requires_grad_(),
                                                  "floating-point", "int64")),
    case("dtype-int-grad-argument", raises(TypeError, lambda: kg.grad(lambda x: kg.sum(x * 1.0))(_ints(1, 2)),
                                           "argument 0", "int64")),
    case("dtype-int-jvp-primal", raises(TypeError, lambda: kg.jvp(kg.exp, (_ints(1, 2),), (_ints(1, 1),)),
                                        "primal 0", "int64")),
    case("dtype-int-linear-layer", raises(TypeError, lambda: nn.Linear(2, 3, seed=0)(_ints(1, 2)), "Linear",
                                          "int64")),
    # bool data
    case("dtype-bool-exp", torch_answer(kg.exp, torch.exp, np.array([True, False]), numpy_dtype=np.float16)),
    case("dtype-bool-sum", torch_answer(kg.sum, torch.sum, np.array([True, False, True]))),
    case("dtype-bool-max", torch_answer(kg.max, torch.max, np.array([True, False]))),
    case("dtype-bool-subtract", raises(TypeError, lambda: kg.tensor([True]) - kg.tensor([False]), "subtract",
                                       "bool")),
    case("dtype-bool-requires-grad", raises(TypeError, lambda: kg.tensor([True], requires_grad=True),
                                            "floating-point", "bool")),
    # object, complex and string data
    case("dtype-object-tensor", raises(TypeError, lambda: kg.tensor(np.array([1.0, None], dtype=object)),
                                       "object")),
    case("dtype-object-operand", raises(TypeError, lambda: kg.exp(np.array([1.0, None], dtype=object)), "exp",
                                        "object")),
    case("dtype-complex-tensor", raises(TypeError, lambda: kg.tensor(np.array([1 + 2j])), "complex")),
    case("dtype-complex-operand", raises(TypeError, lambda: t32(2, requires_grad=True) * np.array([1j, 2j]),
                                         "multiply", "complex")),
    case("dtype-complex-to-op", raises(TypeError, lambda: kg.exp(np.array([1j])), "exp", "complex")),
    case("dtype-str-operand", raises(TypeError, lambda: kg.tensor([1.0]) + "a", "add", "str")),
    case("dtype-str-array-operand", raises(TypeError, lambda: kg.tensor([1.0]) * np.array(["a"]), "multiply",
                                           "str")),
    case("dtype-none-operand", raises(TypeError, lambda: kg.tensor([1.0]) * None, "multiply", "NoneType")),
    case("dtype-str-to-op", raises(TypeError, lambda: kg.exp("a"), "exp", "str")),
    case("dtype-str-tensor", raises(TypeError, lambda: kg.tensor(["a", "b"]), "str")),
    # float16: PyTorch computes in float16 and keeps float16; its reductions accumulate in float32
    case("dtype-float16-tanh", torch_answer(kg.tanh, torch.tanh, arr([-1.0, 0.5, 2.0], np.float16))),
    case("dtype-float16-matmul", torch_answer(kg.matmul, torch.matmul, f32(3, 4).astype(np.float16),
                                              f32(4, 2, seed=1).astype(np.float16))),
    case("dtype-float16-softmax", torch_answer(lambda x: kg.softmax(x, axis=-1), lambda x: torch.softmax(x, -1),
                                               f32(2, 5).astype(np.float16))),
    case("dtype-float16-conv2d", torch_answer(kg.conv2d, F.conv2d, f32(1, 2, 5, 5).astype(np.float16),
                                              f32(3, 2, 3, 3, seed=1).astype(np.float16))),
    case("dtype-float16-max-pool2d", torch_answer(lambda x: kg.max_pool2d(x, 2), lambda x: F.max_pool2d(x, 2),
                                                  f32(1, 2, 4, 4).astype(np.float16))),
    case("dtype-float16-median", torch_answer(kg.median, torch.median, f32(7).astype(np.float16))),
    case("dtype-float16-sum", torch_answer(kg.sum, torch.sum, np.full(4096, 0.1, np.float16))),
    case("dtype-float16-plus-float32", torch_answer(kg.add, torch.add, arr([1.0, 2.0], np.float16),
                                                    arr([0.5, 0.25]))),
    case("dtype-float16-mean-no-overflow", torch_answer(kg.mean, torch.mean, np.full(1000, 1000.0, np.float16))),
]


# -- NaN and inf: where PyTorch's answer is NaN or inf, the same answer, silently --------------------------
NAN, INF = np.nan, np.inf
NONFINITE = [
    case("nonfinite-relu-nan", torch_answer(kg.relu, torch.relu, arr([NAN, -1.0, 1.0]), grad=False)),
    case("nonfinite-maximum-nan", torch_answer(kg.maximum, torch.maximum, arr([NAN, 1.0]), arr([0.0, NAN]),
                                               grad=False)),
    case("nonfinite-max-nan", torch_answer(kg.max, torch.max, arr([1.0, NAN, 3.0]), grad=False)),
    case("nonfinite-argmax-nan", torch_answer(kg.argmax, torch.argmax, arr([1.0, NAN, 3.0]), grad=False)),
    case("nonfinite-sort-nan", torch_answer(kg.sort, lambda x: torch.sort(x).values, arr([2.0, NAN, -1.0]),
                                            grad=False)),
    case("nonfinite-median-nan", torch_answer(kg.median, torch.median, arr([NAN, 1.0, 2.0]), grad=False)),
    case("nonfinite-clip-nan", torch_answer(lambda x: kg.clip(x, 0.0, 1.0), lambda x: torch.clamp(x, 0.0, 1.0),
                                            arr([NAN, 2.0, -1.0]), grad=False)),
    case("nonfinite-softmax-inf", torch_answer(kg.softmax, lambda x: torch.softmax(x, -1), arr([INF, 1.0]),
                                               grad=False, numpy_warns=True)),
    case("nonfinite-log-zero", torch_answer(kg.log, torch.log, arr([0.0, 1.0]), numpy_warns=True)),
    case("nonfinite-log-negative", torch_answer(kg.log, torch.log, arr([-1.0, 1.0]), numpy_warns=True)),
    case("nonfinite-sqrt-negative", torch_answer(kg.sqrt, torch.sqrt, arr([-1.0, 4.0]), numpy_warns=True)),
    case("nonfinite-sqrt-zero-grad", torch_answer(kg.sqrt, torch.sqrt, arr([0.0, 4.0]))),
    case("nonfinite-exp-inf", torch_answer(kg.exp, torch.exp, arr([INF, -INF, 0.0]))),
    case("nonfinite-abs-inf", torch_answer(kg.abs, torch.abs, arr([-INF, INF]))),
    case("nonfinite-tanh-inf", torch_answer(kg.tanh, torch.tanh, arr([-INF, INF]))),
    case("nonfinite-sigmoid-inf", torch_answer(kg.sigmoid, torch.sigmoid, arr([-INF, INF]))),
    case("nonfinite-sum-inf-minus-inf", torch_answer(kg.sum, torch.sum, arr([INF, -INF]), numpy_warns=True)),
    case("nonfinite-mean-nan", torch_answer(kg.mean, torch.mean, arr([NAN, 1.0]))),
    case("nonfinite-logsumexp-all-minus-inf", torch_answer(kg.logsumexp, lambda x: torch.logsumexp(x, 0),
                                                           arr([-INF, -INF]), grad=False, numpy_warns=True)),
    case("nonfinite-logsumexp-inf", torch_answer(kg.logsumexp, lambda x: torch.logsumexp(x, 0), arr([INF, 1.0]),
                                                 grad=False)),
    case("nonfinite-divide-by-zero", torch_answer(kg.divide, torch.divide, arr([1.0, 0.0]), arr([0.0, 0.0]),
                                                  numpy_warns=True)),
    case("nonfinite-power-zero-negative", torch_answer(lambda x: x ** -1.0, lambda x: x ** -1.0, arr([0.0, 2.0]),
                                                       numpy_warns=True)),
    case("nonfinite-matmul-inf-times-zero", torch_answer(kg.matmul, torch.matmul, arr([INF, 0.0]),
                                                         arr([0.0, 1.0]), grad=False, numpy_warns=True)),
    case("nonfinite-softplus-inf", torch_answer(kg.softplus, F.softplus, arr([INF, -INF]))),
    case("nonfinite-norm-inf", torch_answer(kg.norm, torch.linalg.vector_norm, arr([INF, 1.0]), grad=False)),
]


# -- empty arrays: sums are 0 (NumPy/PyTorch), mean/max over nothing raise naming the op --------------------
EMPTY = [
    case("empty-sum", torch_answer(kg.sum, torch.sum, np.zeros(0, np.float32))),
    case("empty-sum-axis", torch_answer(lambda x: kg.sum(x, axis=0), lambda x: torch.sum(x, 0),
                                        np.zeros((0, 3), np.float32))),
    case("empty-prod", torch_answer(kg.prod, torch.prod, np.zeros(0, np.float32))),
    case("empty-relu", torch_answer(kg.relu, torch.relu, np.zeros((0, 2), np.float32))),
    case("empty-matmul", torch_answer(kg.matmul, torch.matmul, np.zeros((2, 0), np.float32),
                                      np.zeros((0, 3), np.float32))),
    case("empty-cumsum", torch_answer(lambda x: kg.cumsum(x, axis=0), lambda x: torch.cumsum(x, 0),
                                      np.zeros(0, np.float32))),
    case("empty-softmax", torch_answer(kg.softmax, lambda x: torch.softmax(x, -1), np.zeros((0, 3), np.float32))),
    case("empty-sort", torch_answer(kg.sort, lambda x: torch.sort(x).values, np.zeros(0, np.float32))),
    case("empty-max-over-nonempty-axis", torch_answer(lambda x: kg.max(x, axis=0), lambda x: torch.amax(x, 0),
                                                      np.zeros((3, 0), np.float32))),
    case("empty-mean-over-nonempty-axis", torch_answer(lambda x: kg.mean(x, axis=0), lambda x: torch.mean(x, 0),
                                                       np.zeros((3, 0), np.float32))),
    case("empty-logsumexp", torch_answer(kg.logsumexp, lambda x: torch.logsumexp(x, 0), np.zeros(0, np.float32),
                                         grad=False)),
    case("empty-mean", raises(ValueError, lambda: kg.mean(kg.zeros(0)), "mean", "empty")),
    case("empty-mean-axis", raises(ValueError, lambda: kg.mean(kg.zeros(0, 3), axis=0), "mean", "empty")),
    case("empty-max", raises(ValueError, lambda: kg.max(kg.zeros(0)), "max", "(0,)")),
    case("empty-min-axis", raises(ValueError, lambda: kg.min(kg.zeros(0, 3), axis=0), "min", "(0, 3)")),
    case("empty-argmax", raises(ValueError, lambda: kg.argmax(kg.zeros(0)), "argmax", "empty")),
    case("empty-var", raises(ValueError, lambda: kg.var(kg.zeros(0)), "var")),
    case("empty-std-one-element-ddof1", raises(ValueError, lambda: kg.std(kg.ones(1), ddof=1), "std", "ddof")),
    case("empty-median", raises(ValueError, lambda: kg.median(kg.zeros(0)), "median", "empty")),
    case("empty-concatenate", raises(ValueError, lambda: kg.concatenate([]), "concatenate")),
    case("empty-stack", raises(ValueError, lambda: kg.stack([]), "stack")),
]


# -- non-contiguous and negative-stride NumPy views ---------------------------------------------------------
def _weights(*shape):
    """Distinct weights on the outputs, so a gradient that lands on the wrong element shows."""
    return kg.tensor(np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape))


VIEWS = [
    case("view-negative-stride-exp", same_as_copy(kg.exp, f64(6)[::-1])),
    case("view-fortran-matmul", same_as_copy(kg.matmul, f64(4, 3).T, f64(8, 2)[::2])),
    case("view-negative-stride-conv2d", same_as_copy(lambda x, w: kg.conv2d(x, w, padding=1),
                                                     f64(2, 3, 6, 6)[:, :, ::-1, :], f64(4, 3, 3, 3)[..., ::-1])),
    case("view-swapped-max-pool2d", same_as_copy(lambda x: kg.max_pool2d(x, 2),
                                                 np.swapaxes(f64(1, 2, 4, 6), 2, 3))),
    case("view-negative-stride-sort", same_as_copy(lambda x: kg.sort(x, axis=1) * _weights(3, 5),
                                                   f64(3, 5)[:, ::-1])),
    case("view-transposed-softmax", same_as_copy(lambda x: kg.softmax(x, axis=0) * _weights(3, 4), f64(4, 3).T)),
    case("view-transposed-reshape", same_as_copy(lambda x: kg.reshape(x, (-1,)) * _weights(12), f64(4, 3).T)),
    case("view-negative-stride-getitem", same_as_copy(lambda x: x[1:4] * 2.0, f64(8)[::-2])),
    case("view-negative-stride-cumsum", same_as_copy(lambda x: kg.cumsum(x, axis=0) ** 2, f64(6)[::-1])),
    case("view-strided-median", same_as_copy(lambda x: kg.median(x, axis=0), f64(5, 8)[::-1, ::2])),
    case("view-broadcast-zero-strides", same_as_copy(lambda x: x * x, np.broadcast_to(f64(4), (3, 4)))),
    case("view-strided-softmax-cross-entropy", same_as_copy(
        lambda z: kg.softmax_cross_entropy(z, np.array([0, 2, 1])), f64(6, 3)[::2])),
    case("view-big-endian", same_as_copy(kg.tanh, f64(5).astype(">f8"))),
]


# -- wrong keyword arguments --------------------------------------------------------------------------------
def _model(*layers):
    return nn.Sequential(list(layers) or [nn.Dense(2, input_dim=3, seed=0)])


KWARGS = [
    case("kwarg-relu-foo", raises(TypeError, lambda: kg.relu(t32(3), foo=1), "relu", "foo")),
    case("kwarg-clip-lo", raises(TypeError, lambda: kg.clip(t32(3), a_min=0, lo=1), "clip", "lo")),
    case("kwarg-leaky-relu-slope", raises(TypeError, lambda: kg.leaky_relu(t32(3), slope=0.1), "leaky_relu",
                                          "slope")),
    case("kwarg-sum-dims", raises(TypeError, lambda: kg.sum(t32(3), dims=0), "sum", "dims")),
    case("kwarg-method-sum-foo", raises(TypeError, lambda: t32(3).sum(foo=1), "sum", "foo")),
    case("kwarg-max-pool2d-kernel", raises(TypeError, lambda: kg.max_pool2d(t32(1, 1, 4, 4), kernel=2),
                                           "max_pool2d", "kernel")),
    case("kwarg-grad-argnum", raises(TypeError, lambda: kg.grad(kg.sum, argnum=0), "grad", "argnum")),
    case("kwarg-backward-retain", raises(TypeError, lambda: kg.sum(t32(3, requires_grad=True)).backward(
        retain=True), "backward", "retain")),
    case("kwarg-dense-misspelt", raises(TypeError, lambda: nn.Dense(4, activaton="relu"), "Dense", "activaton")),
    case("kwarg-dense-activation-name", raises(ValueError, lambda: nn.Dense(4, activation="rleu"), "activation",
                                               "rleu")),
    case("kwarg-sgd-unknown", raises(TypeError, lambda: optim.SGD(_model().parameters(), lr=0.1, moment=0.9),
                                     "SGD", "moment")),
    case("kwarg-lr-string", raises(TypeError, lambda: optim.SGD(_model().parameters(), lr="abc"), "SGD", "lr")),
    case("kwarg-lr-negative", raises(ValueError, lambda: optim.Adam(_model().parameters(), lr=-1.0), "Adam",
                                     "lr")),
    case("kwarg-compile-optimizer", raises(ValueError, lambda: _model().compile(optimizer="adamm"), "optimizer",
                                          "adamm")),
    case("kwarg-compile-loss", raises(ValueError, lambda: _model().compile(loss="msee"), "loss", "msee")),
    case("kwarg-leaky-relu-slope-type", raises(TypeError, lambda: kg.leaky_relu(t32(3), negative_slope="a"),
                                               "leaky_relu", "negative_slope")),
]


# -- wrong axis types and out-of-range axes ------------------------------------------------------------------
AXES = [
    case("axis-float-sum", raises(TypeError, lambda: kg.sum(t32(2, 3), axis=1.5), "sum", "axis")),
    case("axis-float-in-tuple", raises(TypeError, lambda: kg.mean(t32(2, 3), axis=(0, 1.5)), "mean", "axis")),
    case("axis-float-argmax", raises(TypeError, lambda: kg.argmax(t32(2, 3), axis=1.5), "argmax", "axis")),
    case("axis-float-cumsum", raises(TypeError, lambda: kg.cumsum(t32(2, 3), axis=1.5), "cumsum", "axis")),
    case("axis-string-softmax", raises(TypeError, lambda: kg.softmax(t32(2, 3), axis="0"), "softmax", "axis")),
    case("axis-float-expand-dims", raises(TypeError, lambda: kg.expand_dims(t32(3), 1.5), "expand_dims", "axis")),
    case("axis-out-of-range-sum", raises(ValueError, lambda: kg.sum(t32(2, 3), axis=2), "sum", "axis 2")),
    case("axis-out-of-range-negative-mean", raises(ValueError, lambda: kg.mean(t32(2, 3), axis=-3), "mean",
                                                   "axis -3")),
    case("axis-repeated-max", raises(ValueError, lambda: kg.max(t32(2, 3), axis=(0, 0)), "max", "repeated")),
    case("axis-out-of-range-argmax", raises(ValueError, lambda: kg.argmax(t32(2, 3), axis=5), "argmax", "axis")),
    case("axis-out-of-range-concatenate", raises(ValueError, lambda: kg.concatenate([t32(2), t32(2)], axis=1),
                                                 "concatenate", "axis")),
    case("axis-out-of-range-squeeze", raises(ValueError, lambda: kg.squeeze(t32(1, 3), axis=7), "squeeze",
                                             "axis")),
    case("axis-out-of-range-swapaxes", raises(ValueError, lambda: kg.swapaxes(t32(2, 3), 0, 5), "swapaxes",
                                              "axis")),
    case("axis-out-of-range-sort", raises(ValueError, lambda: kg.sort(t32(2, 3), axis=2), "sort", "axis")),
    case("axis-out-of-range-median", raises(ValueError, lambda: kg.median(t32(2, 3), axis=3), "median", "axis")),
]


# -- policy names and rule words ----------------------------------------------------------------------------
POLICIES = [
    case("policy-preset-typo", raises(ValueError, lambda: _enter(kg.kinks("torhc")), "torhc", "torch")),
    case("policy-op-typo", raises(ValueError, lambda: _enter(kg.kinks(reluu=1.0)), "reluu", "relu")),
    case("policy-rule-word-typo", raises(ValueError, lambda: _enter(kg.kinks(median="lowr")), "median", "lowr",
                                         "lower")),
    case("policy-ties-typo", raises(ValueError, lambda: _enter(kg.kinks(ties="frist")), "ties", "frist")),
    case("policy-singular-inf", raises(ValueError, lambda: _enter(kg.kinks(singular="inf")), "singular", "inf")),
    case("policy-side-word", raises(ValueError, lambda: _enter(kg.kinks(relu="sideways")), "relu", "sideways")),
    case("policy-bool-rule", raises(ValueError, lambda: _enter(kg.kinks(relu=True)), "relu", "True")),
    case("policy-list-preset", raises(TypeError, lambda: _enter(kg.kinks(["torch"])), "kinks", "preset")),
    case("policy-seed-string", raises(TypeError, lambda: _enter(kg.kinks("random", seed="abc")), "kinks", "seed")),
    case("policy-set-kinks-typo", raises(ValueError, lambda: kg.set_kinks("torhc"), "torhc", "torch")),
    case("policy-set-kinks-op-typo", raises(ValueError, lambda: kg.set_kinks(reluu=1.0), "reluu")),
    case("policy-grad-kinks-typo", raises(ValueError, lambda: kg.grad(kg.relu, kinks="jaz")(0.0), "jaz", "jax")),
]


# -- backward, transforms, in-place writes, hooks and conversions to Python scalars ----------------------------
def _backward_twice():
    x = t32(3, requires_grad=True)
    y = kg.sum(kg.exp(x))
    y.backward()
    y.backward()


def _write_into_leaf():
    x = t32(3, requires_grad=True)
    x[0] = 1.0


def _write_after_save(through_detach):
    def call():
        x, h = t32(3, requires_grad=True), t32(3, seed=1)
        y = kg.sum(x * h)
        (x.detach() if through_detach else h)[0] = 100.0
        y.backward()
    return call


def _hooked(hook, on_leaf=False):
    def call():
        x = t32(3, requires_grad=True)
        y = x * 2.0
        (x if on_leaf else y).register_hook(hook)
        kg.sum(y).backward()
    return call


def bad_shape_hook(g):
    return kg.ones(2)


def bad_dtype_hook(g):
    return kg.tensor(np.ones(3))


def bad_type_hook(g):
    return "not a gradient"


def constant_loss(x):
    return np.float32(3.0)


def constant_map(x):
    return np.ones(3, np.float32)


def _vjp_of_constant():
    out, pullback = kg.vjp(constant_map, np.ones(3, np.float32))
    return pullback(np.ones(3, np.float32))


def _zeros_of_shape(shape):
    def then(result):
        result = result[0] if isinstance(result, tuple) else result
        np.testing.assert_array_equal(np.asarray(result), np.zeros(shape, np.float32))
    return then


TRANSFORMS = [
    case("backward-twice", raises(RuntimeError, _backward_twice, "retain_graph", "sum")),
    case("backward-non-scalar", raises(RuntimeError, lambda: (t32(3, requires_grad=True) * 2).backward(),
                                       "backward", "(3,)")),
    case("backward-wrong-grad-shape", raises(RuntimeError, lambda: (t32(3, requires_grad=True) * 2).backward(
        grad=np.ones(2, np.float32)), "grad", "(2,)", "(3,)")),
    case("backward-grad-string", raises(TypeError, lambda: (t32(3, requires_grad=True) * 2).backward(grad="abc"),
                                        "backward", "grad")),
    case("backward-no-grad-tensor", raises(RuntimeError, lambda: kg.sum(t32(3)).backward(), "requires_grad")),
    case("grad-non-scalar", raises(TypeError, lambda: kg.grad(lambda x: x * 2)(f32(3)), "grad", "scalar", "(3,)")),
    case("grad-int-output", raises(TypeError, lambda: kg.grad(lambda x: 3)(f32(3)), "grad", "int64")),
    case("grad-constant-numpy", warns(UserWarning, lambda: kg.grad(constant_loss)(f32(3)), "constant_loss",
                                      then=_zeros_of_shape(3))),
    case("vjp-constant-numpy", warns(UserWarning, _vjp_of_constant, "constant_map", then=_zeros_of_shape(3))),
    case("vjp-wrong-cotangent-shape", raises(ValueError, lambda: kg.vjp(lambda x: x * 2, f32(3))[1](f32(2)), "vjp",
                                             "(2,)", "(3,)")),
    case("jvp-tangent-shape", raises(ValueError, lambda: kg.jvp(kg.exp, (f32(3),), (f32(2),)), "jvp", "(2,)",
                                     "(3,)")),
    case("jvp-tangent-count", raises(ValueError, lambda: kg.jvp(kg.add, (f32(3), f32(3)), (f32(3),)), "jvp",
                                     "tangent")),
    case("grad-argnums-out-of-range", raises(ValueError, lambda: kg.grad(kg.sum, argnums=2)(f32(3)), "argnums")),
    case("inplace-leaf-requiring-grad", raises(RuntimeError, _write_into_leaf, "setitem", "leaf", "in-place")),
    case("inplace-saved-constant", raises(RuntimeError, _write_after_save(False), "multiply", "in-place",
                                          "(3,)")),
    case("inplace-saved-through-detach", raises(RuntimeError, _write_after_save(True), "multiply", "in-place",
                                                "(3,)")),
    case("hook-wrong-shape", raises(RuntimeError, _hooked(bad_shape_hook), "bad_shape_hook", "(2,)", "(3,)")),
    case("hook-wrong-shape-on-leaf", raises(RuntimeError, _hooked(bad_shape_hook, on_leaf=True), "bad_shape_hook",
                                            "(2,)", "(3,)")),
    case("hook-wrong-dtype", raises(RuntimeError, _hooked(bad_dtype_hook), "bad_dtype_hook", "float64",
                                    "float32")),
    case("hook-not-a-tensor", raises(TypeError, _hooked(bad_type_hook), "bad_type_hook", "str")),
    case("hook-on-constant", raises(RuntimeError, lambda: t32(3).register_hook(bad_shape_hook), "register_hook")),
    case("item-non-scalar", raises(ValueError, lambda: t32(3).item(), "item", "(3,)")),
    case("float-non-scalar", raises(ValueError, lambda: float(t32(3)), "(3,)")),
    case("bool-multi-element", raises(ValueError, lambda: bool(t32(3)), "ambiguous")),
    case("bool-empty", raises(ValueError, lambda: bool(kg.zeros(0)), "ambiguous")),
    case("len-0d", raises(TypeError, lambda: len(kg.tensor(1.0)), "0-d")),
]


# -- indexing, factories and argument ranges -----------------------------------------------------------------
INDEXING = [
    case("index-out-of-range", raises(IndexError, lambda: t32(3)[5], "getitem", "5", "(3,)")),
    case("index-float-tensor", raises(IndexError, lambda: t32(3)[kg.tensor([0.0, 1.0])], "getitem")),
    case("index-string", raises(IndexError, lambda: t32(3)["a"], "getitem", "'a'")),
    case("index-bool-mask-shape", raises(IndexError, lambda: t32(3)[np.array([True, False])], "getitem", "(3,)")),
    case("index-take-out-of-range", raises(IndexError, lambda: kg.take(t32(3), [5]), "take", "5")),
    case("factory-ragged-list", raises(ValueError, lambda: kg.tensor([[1.0, 2.0], [3.0]]), "tensor")),
    case("factory-negative-size", raises(ValueError, lambda: kg.zeros(-1), "zeros", "-1")),
    case("factory-arange-zero-step", raises(ValueError, lambda: kg.arange(0, 10, 0), "arange", "step")),
    case("range-clip-min-above-max", torch_answer(lambda x: kg.clip(x, 1.0, 0.0),
                                                  lambda x: torch.clamp(x, 1.0, 0.0), arr([-1.0, 0.5, 2.0]))),
]


# -- layers given the wrong input size ---------------------------------------------------------------------------
def _batchnorm_on_one_sample():
    nn.BatchNorm1d(4)(f32(1, 4))


LAYERS = [
    case("layer-dense-features", raises(ValueError, lambda: nn.Dense(4, input_dim=3, seed=0)(f32(2, 5)), "Dense",
                                        "(2, 5)", "3")),
    case("layer-linear-features", raises(ValueError, lambda: nn.Linear(3, 4, seed=0)(f32(2, 5)), "Linear",
                                         "(2, 5)", "3")),
    case("layer-conv2d-channels", raises(ValueError, lambda: nn.Conv2d(3, 8, 3, seed=0)(f32(1, 1, 8, 8)), "Conv2d",
                                         "(1, 1, 8, 8)")),
    case("layer-conv2d-rank2", raises(ValueError, lambda: nn.Conv2d(3, 8, 3, seed=0)(f32(8, 8)), "Conv2d",
                                      "(8, 8)")),
    case("layer-batchnorm1d-features", raises(ValueError, lambda: nn.BatchNorm1d(4)(f32(8, 3)), "BatchNorm1d",
                                              "(8, 3)")),
    case("layer-batchnorm2d-rank3", raises(ValueError, lambda: nn.BatchNorm2d(3)(f32(2, 3, 4)), "BatchNorm2d",
                                           "(2, 3, 4)")),
    case("layer-batchnorm1d-one-sample", raises(ValueError, _batchnorm_on_one_sample, "BatchNorm1d", "(1, 4)")),
    case("layer-layernorm-shape", raises(ValueError, lambda: nn.LayerNorm(4)(f32(2, 3)), "LayerNorm", "(2, 3)")),
    case("layer-embedding-float-indices", raises(TypeError, lambda: nn.Embedding(5, 2, seed=0)(arr([0.0, 1.0])),
                                                 "Embedding", "float32")),
    case("layer-embedding-out-of-range", raises(IndexError, lambda: nn.Embedding(5, 2, seed=0)(_ints(0, 5)),
                                                "Embedding", "5")),
    case("layer-dense-zero-units", raises(ValueError, lambda: nn.Dense(0), "Dense", "units")),
    case("layer-linear-negative-size", raises(ValueError, lambda: nn.Linear(3, -1), "Linear", "out_features")),
    case("layer-dropout-rate", raises(ValueError, lambda: nn.Dropout(1.5), "Dropout", "rate")),
    case("layer-sequential-not-a-layer", raises(TypeError, lambda: nn.Sequential([nn.Dense(2), "relu"]),
                                                "Sequential", "item 1")),
    case("layer-dense-empty-batch", torch_answer(lambda x: nn.Dense(3, input_dim=2, seed=0)(x) * 0.0,
                                                 lambda x: torch.nn.Linear(2, 3)(x) * 0.0,
                                                 np.zeros((0, 2), np.float32))),
]


# -- loss labels ---------------------------------------------------------------------------------------------------
LOSSES = [
    case("loss-sparse-ce-fractional-labels", raises(TypeError, lambda: losses.sparse_categorical_crossentropy(
        arr([0.5, 1.0]), t32(2, 3), from_logits=True), "labels", "float")),
    case("loss-sparse-ce-labels-out-of-range", raises(ValueError, lambda: losses.sparse_categorical_crossentropy(
        _ints(0, 3), t32(2, 3), from_logits=True), "labels", "[0, 3)")),
    case("loss-sparse-ce-negative-labels", raises(ValueError, lambda: losses.sparse_categorical_crossentropy(
        _ints(0, -1), t32(2, 3), from_logits=True), "labels", "-1")),
    case("loss-sparse-ce-string-labels", raises(TypeError, lambda: losses.sparse_categorical_crossentropy(
        np.array(["a", "b"]), t32(2, 3)), "labels", "<U1")),
    case("loss-softmax-ce-float-labels", raises(TypeError, lambda: kg.softmax_cross_entropy(t32(2, 3),
                                                                                            arr([0.0, 1.0])),
                                                "softmax_cross_entropy", "float32")),
    case("loss-categorical-ce-integer-labels", raises(ValueError, lambda: losses.categorical_crossentropy(
        _ints(0, 2), t32(2, 3)), "categorical_crossentropy", "(2,)", "(2, 3)")),
    case("loss-bce-probability-out-of-range", raises(ValueError, lambda: losses.binary_crossentropy(
        arr([0.0, 1.0]), kg.tensor([1.5, 0.5])), "binary_crossentropy", "[0, 1]")),
    case("loss-softmax-ce-negative-label", raises(IndexError, lambda: kg.softmax_cross_entropy(
        t32(2, 3), [0, -1]), "softmax_cross_entropy", "-1")),
    case("loss-softmax-ce-label-out-of-range", raises(IndexError, lambda: kg.softmax_cross_entropy(
        t32(2, 3), [0, 5]), "softmax_cross_entropy", "5")),
    case("loss-unknown-reduction", raises(ValueError, lambda: losses.mse(t32(3), t32(3), reduction="avg"), "mse",
                                          "reduction")),
]


# -- fit on empty datasets -------------------------------------------------------------------------------------------
def _compiled(loss="mse"):
    return _model().compile(optimizer="sgd", loss=loss)


FIT = [
    case("fit-empty-dataset", raises(ValueError, lambda: _compiled().fit(np.zeros((0, 3), np.float32),
                                                                         np.zeros((0, 2), np.float32), verbose=0),
                                     "fit", "empty")),
    case("fit-empty-list", raises(ValueError, lambda: _compiled().fit([], [], verbose=0), "fit", "empty")),
    case("fit-length-mismatch", raises(ValueError, lambda: _compiled().fit(f32(4, 3), f32(3, 2), verbose=0), "fit",
                                       "4", "3")),
    case("fit-zero-batch-size", raises(ValueError, lambda: _compiled().fit(f32(4, 3), f32(4, 2), batch_size=0,
                                                                           verbose=0), "batch_size")),
    case("fit-validation-split-everything", raises(ValueError, lambda: _compiled().fit(
        f32(4, 3), f32(4, 2), validation_split=1.0, verbose=0), "validation_split")),
    case("fit-before-compile", raises(RuntimeError, lambda: _model().fit(f32(4, 3), f32(4, 2), verbose=0),
                                      "compile")),
    case("fit-fractional-class-labels", raises(TypeError, lambda: _compiled("sparse_categorical_crossentropy").fit(
        f32(4, 3), arr([0.5, 1.0, 0.0, 1.0]), verbose=0), "labels")),
    case("predict-empty", raises(ValueError, lambda: _model().predict(np.zeros((0, 3), np.float32)), "predict",
                                 "empty")),
    case("evaluate-empty", raises(ValueError, lambda: _compiled().evaluate(np.zeros((0, 3), np.float32),
                                                                           np.zeros((0, 2), np.float32)),
                                  "evaluate", "empty")),
]


# -- weight files: truncated, corrupt, missing, a directory, wrong shapes ---------------------------------------------
def _saved(tmp_path, model=None):
    path = tmp_path / "w.safetensors"
    (model or _model()).save_weights(path)
    return path


def _load_truncated(tmp_path):
    path = _saved(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _model().load_weights(path)


def _load_corrupt(tmp_path):
    path = tmp_path / "w.safetensors"
    path.write_bytes(np.random.default_rng(0).bytes(256))
    _model().load_weights(path)


def _load_empty_file(tmp_path):
    path = tmp_path / "w.safetensors"
    path.write_bytes(b"")
    _model().load_weights(path)


def _load_npy(tmp_path):
    path = tmp_path / "w.npy"
    np.save(path, np.ones(3))
    _model().load_weights(path)


def _load_wrong_shapes(tmp_path):
    path = _saved(tmp_path, nn.Sequential([nn.Dense(4, input_dim=3, seed=0)]))
    _model().load_weights(path)


def _load_other_architecture(tmp_path):
    path = _saved(tmp_path, nn.Sequential([nn.Dense(2, input_dim=3, seed=0), nn.Dense(2, input_dim=2, seed=0)]))
    _model().load_weights(path)


WEIGHTS = [
    case("weights-missing-file", raises(FileNotFoundError, lambda tmp: _model().load_weights(tmp / "nope.kg"),
                                        "nope.kg")),
    case("weights-directory", raises(IsADirectoryError, lambda tmp: _model().load_weights(tmp), "directory")),
    case("weights-truncated", raises(ValueError, _load_truncated, "load_weights", "w.safetensors")),
    case("weights-corrupt", raises(ValueError, _load_corrupt, "load_weights", "w.safetensors")),
    case("weights-empty-file", raises(ValueError, _load_empty_file, "load_weights", "w.safetensors")),
    case("weights-not-safetensors", raises(ValueError, _load_npy, "load_weights", "w.npy")),
    case("weights-wrong-shapes", raises(ValueError, _load_wrong_shapes, "layers.0.kernel", "(3, 4)", "(3, 2)")),
    case("weights-other-architecture", raises(ValueError, _load_other_architecture, "layers.1.kernel")),
    case("weights-save-into-missing-directory", raises(FileNotFoundError, lambda tmp: _model().save_weights(
        tmp / "no" / "such" / "w.safetensors"), "w.safetensors")),
]


CORPUS = (SHAPES + DTYPES + NONFINITE + EMPTY + VIEWS + KWARGS + AXES + POLICIES + TRANSFORMS + INDEXING + LAYERS
          + LOSSES + FIT + WEIGHTS)


@pytest.fixture(autouse=True)
def _default_kink_policy():
    """A policy case that wrongly succeeded must not leak its process default into the next case."""
    yield
    kg.set_kinks("default")


@pytest.mark.parametrize("expect", CORPUS)
def test_bad_input(expect, tmp_path):
    expect.check(tmp_path)


def test_the_corpus_is_large_and_names_its_cases_uniquely():
    ids = [p.id for p in CORPUS]
    assert len(ids) >= 100
    assert len(set(ids)) == len(ids)
