"""Per-call state that every layer reads: grad mode, forward-mode levels, the kink policy, and where
ops were created.

Everything that changes how an op behaves lives in one ContextVar, so each op pays for a single
lookup, and threads / asyncio tasks each see their own mode (PyTorch's grad mode is thread-local
for the same reason). A thread that never set anything sees the *process default*, which
``kg.set_kinks`` changes.

This module and ``tensor.py`` are the bottom layer: they import nothing from kinkgrad. The kink
model (``kinks/``) builds on them, the engine (``autodiff/``) on the kink model, the operations
(``ops/``) on the engine; a test walks the imports and holds that direction.
"""
from __future__ import annotations

import contextlib
import functools
import os
import sys
from contextvars import ContextVar
from typing import Any, NamedTuple


class State(NamedTuple):
    grad_enabled: bool = True
    levels: tuple = ()          # active forward-mode (jvp) levels, innermost last
    depth: int = 0              # how many functional transforms (grad, vjp...) enclose this code
    sites: bool = False         # record each op's user call site (an audit or kinks("raise") is on)
    directional: int = 0        # directional mode: how many probing directions ride along (0 = off)
    policy: Any = None          # the active kinks.Policy (installed by the kink model at import)
    anomaly: bool = False       # anomaly mode: check every backward pass (kg.detect_anomaly)
    recorder: Any = None        # record_ops(): a list that every applied primitive is appended to


_STATE: ContextVar[State] = ContextVar("kinkgrad_state")
_DEFAULT = [State()]            # the process default: what a context that set nothing sees


def state() -> State:
    return _STATE.get(_DEFAULT[0])


def set_default(**changes):
    """Change the process default (seen by every thread and task that has not scoped its own)."""
    _DEFAULT[0] = _DEFAULT[0]._replace(**changes)


def default_state() -> State:
    return _DEFAULT[0]


@contextlib.contextmanager
def scoped(**changes):
    """Run the block with some State fields changed (context-local, undone on exit)."""
    token = _STATE.set(state()._replace(**changes))
    try:
        yield
    finally:
        _STATE.reset(token)


# -- grad mode ------------------------------------------------------------------------------------
def is_grad_enabled() -> bool:
    """True when ops record a graph for reverse mode."""
    return state().grad_enabled


class _GradMode:
    """Context manager *and* decorator, like torch.no_grad."""

    enabled = True

    def __enter__(self):
        self._token = _STATE.set(state()._replace(grad_enabled=self.enabled))
        return self

    def __exit__(self, *exc):
        _STATE.reset(self._token)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Ops inside record no graph: faster, and results never require grad."""

    enabled = False


class enable_grad(_GradMode):
    """Turn graph recording back on inside a ``no_grad`` block."""

    enabled = True


# -- where ops come from --------------------------------------------------------------------------
PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_SCOPE: ContextVar = ContextVar("kinkgrad_scope", default=None)


class Site(tuple):
    """``(filename, lineno, scope)`` of the first frame outside kinkgrad, and the ``name_scope``
    label active when the op was created (a layer's name, for per-layer audits); prints as
    ``file:line``. Recorded only when someone will read it (an audit, the ``raise`` policy, or a
    piecewise-constant op that may cut a gradient)."""

    __slots__ = ()

    def __str__(self):
        return f"{self[0]}:{self[1]}"

    @property
    def scope(self):
        return self[2]


def user_frame(depth=1):
    """The innermost frame outside kinkgrad, and how many frames up from the caller it is."""
    f, level = sys._getframe(depth + 1), depth
    while f is not None and f.f_code.co_filename.startswith(PACKAGE_DIR):
        f, level = f.f_back, level + 1
    return f, level


def user_site():
    f, _ = user_frame(1)
    if f is None:
        return None
    return Site((f.f_code.co_filename, f.f_lineno, _SCOPE.get()))


@contextlib.contextmanager
def name_scope(name):
    """Label the ops created inside the block (nested scopes join with ``/``), as TensorFlow's
    ``tf.name_scope`` does: the audit then counts kink hits per label (per layer in ``fit``)."""
    outer = _SCOPE.get()
    token = _SCOPE.set(f"{outer}/{name}" if outer else str(name))
    try:
        yield
    finally:
        _SCOPE.reset(token)


# -- the op whose derivative rules are running -----------------------------------------------------
class Running(NamedTuple):
    """Set by the engine around an op's rules when a resolver inside them may ask: the op's call
    site, and a function giving the tangents of its inputs along the probing directions
    (directional mode; computed on demand)."""

    site: Any = None
    directions: Any = None


_RUNNING: ContextVar[Running] = ContextVar("kinkgrad_running", default=Running())


def running() -> Running:
    return _RUNNING.get()


@contextlib.contextmanager
def running_op(site, directions=None):
    token = _RUNNING.set(Running(site, directions))
    try:
        yield
    finally:
        _RUNNING.reset(token)


def running_directions():
    """The tangents of the running op's inputs along each probing direction, or None."""
    provider = _RUNNING.get().directions
    return provider() if provider is not None else None
