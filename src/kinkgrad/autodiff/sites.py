"""Where in the user's code an op was created: recorded only when someone will read it
(an audit, the ``raise`` policy, or a piecewise-constant op that may cut a gradient)."""
from __future__ import annotations

import os
import sys
import threading

_PKG = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


class Site(tuple):
    """``(filename, lineno)`` of the first frame outside kinkgrad; prints as ``file:line``."""

    __slots__ = ()

    def __str__(self):
        return f"{self[0]}:{self[1]}"


def user_site():
    f = sys._getframe(1)
    while f is not None and f.f_code.co_filename.startswith(_PKG):
        f = f.f_back
    if f is None:
        return None
    return Site((f.f_code.co_filename, f.f_lineno))



class _Current(threading.local):
    """The call site of the node whose rule is running (set by the engine only when recorded),
    so that resolvers called from inside non-elementwise rules can name it."""

    site = None
    dirs = None     # directional mode: the tangents of the running op's inputs along each direction
    node = None     # directional mode: the node whose rules are running (tangents found on demand)


running = _Current()
