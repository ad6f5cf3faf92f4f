"""No silent wrong gradient from what the graph saved: in-place writes after an op saved a value
raise (version counters, as in PyTorch), and anomaly mode traces NaN/inf to the op that made it.

Every write through kinkgrad (``t[i] = v``, ``+=``, ``add_``...) stamps the written memory (its NumPy
base array, so views and ``detach()`` share it) from the counter that also numbers graph nodes: a
node older than the stamp saved a value that has since changed. Only nodes older than the newest
write are checked, so a training loop pays nothing. Raw NumPy writes (``t.data[...] = v``) are the
escape hatch, as in PyTorch; under ``kg.detect_anomaly()`` checksums catch them too.
"""
from __future__ import annotations

import contextlib
import itertools
import zlib

import numpy as np

from ..context import default_state, scoped, set_default, state

SEQ = itertools.count()  # stamps graph nodes in creation order, and in-place writes, on one scale
_WRITES: dict = {}      # id(base array) -> the stamp of its latest write through kinkgrad
NEWEST = [-1]           # the newest stamp of all


def base_of(a):
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def record_write(array):
    """Note that ``array``'s memory was just written in place."""
    stamp = next(SEQ)
    _WRITES[id(base_of(array))] = stamp
    NEWEST[0] = stamp


def _saved(node):
    """What a node saved, each with how an error names it: its inputs, then its output."""
    return [(f"input {i}", a) for i, a in enumerate(node.xs)] + [("its output", node.out)]


def check_saved(node):
    """Raise if a value ``node`` saved was written after the node was made. (A stamp of a dead
    array whose id was reused is older than any node saving the new one.)"""
    for what, a in _saved(node):
        if isinstance(a, np.ndarray) and _WRITES.get(id(base_of(a)), -1) > node.seq:
            where = (f", created at {node.site}" if node.site is not None else
                     "; run the forward pass under kg.detect_anomaly() to see the line that created it")
            raise RuntimeError(
                f"{node.prim.name}: one of the values its derivative needs ({what}, shape {a.shape}, "
                f"{a.dtype.name}) was modified by an in-place operation after {node.prim.name} saved it"
                f"{where}. Make a copy before writing (x = x.clone()), or write out of place (kg.where, x + 1).")


# -- anomaly mode ---------------------------------------------------------------------------------
def checksums(xs, out):
    return tuple(zlib.adler32(np.ascontiguousarray(a).view(np.uint8)) if isinstance(a, np.ndarray) else None
                 for a in xs + (out,))


def check_checksums(node):
    """Anomaly mode: a saved value changed by a raw NumPy write (which stamps nothing)."""
    for (what, a), now, then in zip(_saved(node), checksums(node.xs, node.out), node.checksums):
        if now != then:
            raise RuntimeError(
                f"{node.prim.name} (created at {node.site}): {what} (shape {a.shape}) was changed after the op "
                "saved it, by a write that bypassed kinkgrad (t.data[...] = or t.numpy()[...] =); its gradient "
                "would be wrong. Write through kinkgrad (t[...] = v) or copy first.")


def check_finite(node, cts):
    """Anomaly mode: the first non-finite cotangent names the op, its line, and the input."""
    for i, (p, c) in enumerate(zip(node.parents, cts)):
        raw = None if p is None or c is None else (c.data if hasattr(c, "node") else np.asarray(c))
        if raw is not None and raw.dtype.kind in "fc" and not np.isfinite(raw).all():
            bad = "NaN" if np.isnan(raw).any() else "inf"
            shapes = ", ".join(str(tuple(np.shape(x))) for x in node.xs)
            raise FloatingPointError(
                f"anomaly: {node.prim.name} (created at {node.site}) produced {bad} in the gradient for its input "
                f"{i} (inputs of shapes {shapes}); the forward value there was {_summary(node.out)}")


def _summary(a):
    a = np.asarray(a)
    return f"shape {a.shape}, range [{np.nanmin(a):.4g}, {np.nanmax(a):.4g}]" if a.size else "empty"


@contextlib.contextmanager
def detect_anomaly(enabled=True):
    """Check every backward pass inside the block: a NaN or inf gradient raises naming the op and the
    line that created it, and saved values changed behind kinkgrad's back are caught. Slower; off by
    default (then it costs nothing). ``kg.set_detect_anomaly(True)`` turns it on process-wide."""
    with scoped(anomaly=bool(enabled), sites=bool(enabled) or state().sites):
        yield


def set_detect_anomaly(enabled):
    set_default(anomaly=bool(enabled), sites=bool(enabled) or default_state().policy.engine_flags()["sites"])


def is_anomaly_enabled():
    return state().anomaly

