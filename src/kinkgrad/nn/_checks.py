"""Argument checks shared by layers and ``fit``: each error names the owner, the argument, what was
given and what is expected."""
from __future__ import annotations

import numbers

import numpy as np


def _got(value):
    return f"{value!r} ({type(value).__name__})"


def is_int(value):
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_))


def positive_int(owner, name, value):
    if not is_int(value):
        raise TypeError(f"{owner}: {name} must be a positive int, got {_got(value)}")
    if value <= 0:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value}")
    return int(value)


def nonnegative_int(owner, name, value):
    if not is_int(value):
        raise TypeError(f"{owner}: {name} must be an int >= 0, got {_got(value)}")
    if value < 0:
        raise ValueError(f"{owner}: {name} must be >= 0, got {value}")
    return int(value)


def int_tuple(owner, name, value, n=None, minimum=1):
    """An int or a tuple of ints (each >= minimum); returned as a tuple (length n for an int)."""
    items = (value,) * (n or 1) if is_int(value) else value
    if not isinstance(items, (tuple, list)) or not items or not all(is_int(v) for v in items):
        raise TypeError(f"{owner}: {name} must be an int or a tuple of ints, got {_got(value)}")
    if n is not None and len(items) != n:
        raise ValueError(f"{owner}: {name} must have {n} entries, got {value!r}")
    if any(v < minimum for v in items):
        raise ValueError(f"{owner}: {name} entries must be >= {minimum}, got {value!r}")
    return tuple(int(v) for v in items)


def real(owner, name, value, low=None, high=None, low_open=False, high_open=False):
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: {name} must be a number, got {_got(value)}")
    v = float(value)
    bad = (not np.isfinite(v) or (low is not None and (v <= low if low_open else v < low))
           or (high is not None and (v >= high if high_open else v > high)))
    if bad:
        lo = "" if low is None else ("(" if low_open else "[") + f"{low}, "
        hi = "" if high is None else f"{high}" + (")" if high_open else "]")
        where = f"in {lo}{hi}" if lo and hi else (f">{'' if low_open else '='} {low}" if lo else
                                                   f"<{'' if high_open else '='} {high}")
        raise ValueError(f"{owner}: {name} must be {where}, got {value!r}")
    return v


def flag(owner, name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: {name} must be True or False, got {_got(value)}")
    return bool(value)


def seed(owner, value):
    if value is None or isinstance(value, np.random.Generator):
        return value
    if not is_int(value) or value < 0:
        raise TypeError(f"{owner}: seed must be a non-negative int or None, got {_got(value)}")
    return int(value)


def float_dtype(owner, value):
    try:
        dt = np.dtype(value)
    except TypeError:
        raise TypeError(f"{owner}: dtype must be a float dtype such as 'float32', got {_got(value)}") from None
    if dt.kind != "f":
        raise TypeError(f"{owner}: dtype must be a float dtype (float16, float32, float64), got {dt.name}")
    return dt


def sample_shape(owner, value):
    """The shape of one sample: an int or a tuple of positive ints (a leading None, Keras' batch axis,
    is dropped)."""
    if is_int(value):
        value = (value,)
    if isinstance(value, list):
        value = tuple(value)
    if isinstance(value, tuple) and value and value[0] is None:
        value = value[1:]
    if not isinstance(value, tuple) or not all(is_int(v) and v > 0 for v in value):
        raise TypeError(f"{owner}: input_shape must be the shape of one sample, a tuple of positive ints such as "
                        f"(10,) or (1, 28, 28), got {_got(value)}")
    return tuple(int(v) for v in value)
