"""Shorthands for declaring primitives, and argument normalisation shared by the op families."""
from __future__ import annotations

import ast
import inspect

import numpy as np

from ..autodiff.primitive import Primitive, apply
from ..kinks.docs import with_kink_lines
from ..tensor import Tensor


def elementwise(name, impl, *derivs, kinks=None, doc=None, signature=None, **kw):
    """An elementwise primitive stated by its partial derivatives, one per input; with a
    ``signature``, the public function for it (see ``public``).

    Ops with kinks are selections among pieces, some with slope exactly 0 (relu below 0, the loser of
    maximum): forward mode keeps those zero partials exact (``exact_zero_partials``)."""
    decls = kinks if isinstance(kinks, tuple) else (kinks,)
    kw.setdefault("exact_zero_partials", any(k is not None and k.kind != "singular" for k in decls))
    prim = Primitive(name, impl, derivs=tuple(derivs), kinks=kinks, doc=doc, **kw)
    return prim if signature is None else public(prim, signature)


def comparison(name, impl, tie_break=None, signature="x, y", doc=None):
    """A comparison: boolean output, no derivative (it is piecewise constant). ``tie_break(sign)``
    gives its result at equality when x + t v is compared instead of x (directional mode)."""
    return public(Primitive(name, impl, differentiable=False, piecewise_constant=True, tie_break=tie_break,
                            doc=doc or f"Elementwise {name.replace('_', ' ')} (boolean; not differentiable)."),
                  signature)


def normalize_axis(axis, ndim, op="op"):
    """``axis`` as a sorted tuple of non-negative ints (None = all axes)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else axis
    if not isinstance(axes, (tuple, list)) or not all(isinstance(a, (int, np.integer)) for a in axes):
        raise TypeError(f"{op}: axis must be an int or a tuple of ints, got {axis!r}")
    out = []
    for a in axes:
        if not -ndim <= a < max(ndim, 1):
            raise ValueError(f"{op}: axis {a} is out of range for a tensor with {ndim} dimension(s)")
        out.append(int(a) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(out))


def int_pair(v, name, op, minimum=1):
    """An int or a pair of ints (kernel size, stride, padding...) as a pair, checked."""
    v = (int(v), int(v)) if isinstance(v, (int, np.integer)) else tuple(int(e) for e in v)
    if len(v) != 2 or min(v) < minimum:
        kind = "a non-negative" if minimum == 0 else "a positive"
        raise ValueError(f"{op}: {name} must be {kind} int or a pair of them, got {v}")
    return v


def shape_of(x, op="op"):
    if isinstance(x, (Tensor, np.ndarray)):
        return x.shape
    try:
        return np.shape(x)
    except ValueError:          # a ragged nested list: say which pieces differ, not NumPy's internals
        pieces = [tuple(np.shape(p)) if not isinstance(p, (list, tuple)) else f"list of {len(p)}" for p in x]
        raise ValueError(f"{op}: the list's pieces have different shapes {pieces}, so it is not an array; "
                         "give pieces of one shape (kg.stack them, or broadcast numbers with kg.full_like)") from None


def ndim_of(x, op="op"):
    return len(shape_of(x, op))


def public(prim, signature, doc=None):
    """The function users call for ``prim``: a real signature (for ``help()``, IDEs and Jupyter,
    and keyword arguments by name) and a docstring made of ``doc`` plus the kink lines generated
    from the declaration. ``signature`` is Python's parameter syntax; the first parameters are the
    primitive's inputs (as many as it has derivative rules), the rest its keyword parameters.

    The common call (every input positional, no keyword) goes straight to ``apply``, as cheap as
    calling the primitive itself."""
    names, defaults = _parse_signature(signature)
    rules = prim.derivs or prim.vjps
    n_in = len(rules) if rules is not None else sum(1 for n in names if n not in defaults)
    params = names[n_in:]
    def bound(args, kwargs):
        return apply(prim, *_bind(prim.name, names, defaults, n_in, args, kwargs))

    if all(n in defaults for n in params):
        fixed = {n: defaults[n] for n in params}      # shared by every node: never mutated

        def op(*args, **kwargs):
            if kwargs or len(args) != n_in:
                return bound(args, kwargs)
            return apply(prim, args, fixed)
    else:
        def op(*args, **kwargs):
            return bound(args, kwargs)

    op.__name__ = op.__qualname__ = prim.name
    op.__module__ = "kinkgrad"
    op.__doc__ = with_kink_lines(doc or prim.doc, prim.name)
    op.__signature__ = inspect.Signature(
        [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                           default=defaults.get(n, inspect.Parameter.empty)) for n in names])
    op.primitive = prim
    op.plain = not defaults and not params     # inputs only: operators may call the primitive directly
    return op


def _parse_signature(text):
    """Parameter names and literal defaults of a signature written in Python's syntax."""
    args = ast.parse(f"def f({text}): pass").body[0].args
    names = [a.arg for a in args.args]
    values = [ast.literal_eval(d) for d in args.defaults]
    return names, dict(zip(names[len(names) - len(values):], values))


def _bind(op, names, defaults, n_in, args, kwargs):
    if len(args) > len(names):
        raise TypeError(f"{op}() takes {len(names)} argument(s) ({', '.join(names)}), got {len(args)}")
    values = dict(zip(names, args))
    for k, v in kwargs.items():
        if k not in names:
            raise TypeError(f"{op}() got an unexpected keyword argument {k!r}; it takes {', '.join(names)}")
        if k in values:
            raise TypeError(f"{op}() got multiple values for argument {k!r}")
        values[k] = v
    missing = [n for n in names if n not in values and n not in defaults]
    if missing:
        raise TypeError(f"{op}() missing argument(s): {', '.join(missing)}")
    full = [values[n] if n in values else defaults[n] for n in names]
    for n, v in zip(names[n_in:], full[n_in:]):
        d = defaults.get(n)
        if isinstance(d, (int, float)) and not isinstance(d, bool) and not isinstance(v, (int, float, np.number)):
            raise TypeError(f"{op}(): {n} must be a number, got {type(v).__name__} {v!r}")
    return tuple(full[:n_in]), dict(zip(names[n_in:], full[n_in:]))
