"""Context-local autodiff state: grad mode and the active forward-mode levels.

Everything that changes how an op behaves lives in one ContextVar, so each op pays for a single
lookup, and threads / asyncio tasks each see their own mode (PyTorch's grad mode is thread-local
for the same reason).
"""
from __future__ import annotations

import contextlib
from contextvars import ContextVar
from typing import NamedTuple


class State(NamedTuple):
    grad_enabled: bool = True
    levels: tuple = ()          # active forward-mode (jvp) levels, innermost last
    depth: int = 0              # how many functional transforms (grad, vjp...) enclose this code
    sites: bool = False         # record each op's user call site (an audit or kinks("raise") is on)
    directional: int = 0        # directional mode: how many probing directions ride along (0 = off)
    recorder: object = None     # record_ops(): a list that every applied primitive is appended to


_STATE: ContextVar[State] = ContextVar("kinkgrad_state", default=State())
_next_level = [0]


def get_state() -> State:
    return _STATE.get()


def is_grad_enabled() -> bool:
    """True when ops record a graph for reverse mode."""
    return _STATE.get().grad_enabled


@contextlib.contextmanager
def _set(**changes):
    token = _STATE.set(_STATE.get()._replace(**changes))
    try:
        yield
    finally:
        _STATE.reset(token)


class _GradMode:
    """Context manager *and* decorator, like torch.no_grad."""

    enabled = True

    def __enter__(self):
        self._token = _STATE.set(_STATE.get()._replace(grad_enabled=self.enabled))
        return self

    def __exit__(self, *exc):
        _STATE.reset(self._token)
        return False

    def __call__(self, fn):
        import functools

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


@contextlib.contextmanager
def new_level():
    """Open a forward-mode level; tangents tagged with it propagate until the block ends."""
    _next_level[0] += 1
    level = _next_level[0]
    st = _STATE.get()
    token = _STATE.set(st._replace(levels=st.levels + (level,)))
    try:
        yield level
    finally:
        _STATE.reset(token)


def levels_below(level):
    """Run a tangent rule of ``level`` with that level and every inner one switched off."""
    levels = _STATE.get().levels
    return _set(levels=levels[: levels.index(level)])
