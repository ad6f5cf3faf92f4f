"""Where in the user's code an op was created: recorded only when someone will read it
(an audit, the ``raise`` policy, or a piecewise-constant op that may cut a gradient)."""
from __future__ import annotations

import contextlib
import os
import sys
import threading
from contextvars import ContextVar

_PKG = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


_SCOPE: ContextVar = ContextVar("kinkgrad_scope", default=None)


class Site(tuple):
    """``(filename, lineno, scope)`` of the first frame outside kinkgrad, and the ``name_scope``
    label active when the op was created (a layer's name, for per-layer audits); prints as
    ``file:line``."""

    __slots__ = ()

    def __str__(self):
        return f"{self[0]}:{self[1]}"

    @property
    def scope(self):
        return self[2]


def user_site():
    f = sys._getframe(1)
    while f is not None and f.f_code.co_filename.startswith(_PKG):
        f = f.f_back
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



class _Current(threading.local):
    """The call site of the node whose rule is running (set by the engine only when recorded),
    so that resolvers called from inside non-elementwise rules can name it."""

    site = None
    dirs = None     # directional mode: the tangents of the running op's inputs along each direction
    node = None     # directional mode: the node whose rules are running (tangents found on demand)


running = _Current()
