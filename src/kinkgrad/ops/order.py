"""Order statistics: sort, topk, median, quantile, cummax/cummin — where ties are the kinks.

Each op works on rows (the chosen axis moved last, the rest flattened). Its value is computed
exactly by NumPy; its derivative is a sparse linear map ``W`` from the input row to the outputs,
built from the stable order of the row and the active tie rule: ``first`` (stable order, what
every framework does for sort), ``last``, ``split`` (tied elements share each tied output evenly:
the minimum-norm element of the Clarke set, the default), the coordinate-wise sides ``left`` /
``right`` / ``mid``, ``zero``, ``nan``, ``random``, ``raise``. ``W`` is applied by two mutually
transposed linear primitives, so forward mode, reverse mode and higher orders all agree.
"""
from __future__ import annotations

import numpy as np

from ..autodiff.primitive import Primitive
from ..context import running, running_directions
from ..kinks.declare import TIE, tie
from ..kinks.docs import documents
from ..kinks.policy import current
from ..kinks.resolve import effective_rule, raise_at
from ..tensor import Tensor
from . import raw
from ._declare import ndim_of, normalize_axis, public, shape_of
from .shape import reshape, transpose

# -- the sparse linear map and its transpose ---------------------------------------------------
select_apply = public(Primitive(
    "select_apply", raw.select_apply,
    vjp=lambda m, g, out, t, rows, cols, vals, shape: m.select_transpose(g, rows, cols, vals, shape_of(t)),
    linear=True, doc="W @ t for a sparse W given as (rows, cols, vals): the derivative of an order statistic."),
    "t, rows, cols, vals, shape")
select_transpose = public(Primitive(
    "select_transpose", raw.select_transpose,
    vjp=lambda m, gg, out, g, rows, cols, vals, shape: m.select_apply(gg, rows, cols, vals, shape_of(g)),
    linear=True, doc="W.T @ g: the transpose of select_apply."), "g, rows, cols, vals, shape")


# -- building W --------------------------------------------------------------------------------
def _groups(sv, *more):
    """For sorted rows ``sv`` (B, n): first and last position of each position's tie group (a
    group breaks wherever ``sv`` or any of the ``more`` keys, sorted alike, changes)."""
    B, n = sv.shape
    pos = np.broadcast_to(np.arange(n), (B, n))
    new = np.zeros((B, n), dtype=bool)
    new[:, 0] = True
    for key in (sv,) + more:
        new[:, 1:] |= key[:, 1:] != key[:, :-1]
    start = np.maximum.accumulate(np.where(new, pos, 0), axis=1)
    end_new = np.ones((B, n), dtype=bool)
    end_new[:, :-1] = new[:, 1:]
    end = np.flip(np.minimum.accumulate(np.flip(np.where(end_new, pos, n - 1), 1), axis=1), 1)
    return start, end


def _tied(groups):
    start, end = groups
    return end > start


def _expand(rows_b, pos, w, start, end, order, rule, descending, n, rng):
    """Elements (and weights) feeding output positions ``pos`` of rows ``rows_b`` under ``rule``."""
    a, b = start[rows_b, pos], end[rows_b, pos]
    size = b - a + 1
    if rule == "first" or not np.any(size > 1):
        return rows_b, pos, order[rows_b, pos], w
    if rule == "last":
        return rows_b, pos, order[rows_b, a + b - pos], w
    if rule == "random":
        shuffled = order.copy()
        for r, p in zip(rows_b, pos):           # a random vertex of each tied group's Clarke set
            lo, hi = start[r, p], end[r, p]
            if hi > lo and shuffled[r, lo] == order[r, lo]:
                shuffled[r, lo:hi + 1] = rng.permutation(order[r, lo:hi + 1])
        return rows_b, pos, shuffled[rows_b, pos], w
    if isinstance(rule, (int, float)) and not isinstance(rule, bool):
        return rows_b, pos, order[rows_b, pos], np.where(size > 1, float(rule) * w, w)
    # the rest spread an output over its whole group
    reps = size
    ridx = np.repeat(np.arange(len(pos)), reps)
    offs = np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps)
    members = a[ridx] + offs
    elems = order[rows_b[ridx], members]
    wr = w[ridx]
    if rule in ("default", "split"):
        return rows_b[ridx], pos[ridx], elems, wr / size[ridx]
    if rule in ("zero", "nan"):    # every tied element depends on the convention
        return rows_b[ridx], pos[ridx], elems, np.where(size[ridx] > 1, 0.0 if rule == "zero" else np.nan, wr)
    # coordinate-wise sides: a tied element moved toward the front of the order takes position a
    front = (pos[ridx] == a[ridx]).astype(float)
    back = (pos[ridx] == b[ridx]).astype(float)
    up, down = (front, back) if descending else (back, front)
    if rule == "right":
        return rows_b[ridx], pos[ridx], elems, wr * up
    if rule == "left":
        return rows_b[ridx], pos[ridx], elems, wr * down
    if rule == "mid":
        return rows_b[ridx], pos[ridx], elems, wr * (up + down) / 2
    raise ValueError(f"rule {rule!r} does not apply to ties")


def _libstdcxx_sort(q, comp):
    """``std::sort`` as libstdc++ implements it (introsort: median-of-three quicksort down to runs of 16,
    heapsort past 2 log2(n) levels, then one insertion sort), in place on the list ``q``. PyTorch's CPU
    sort runs it on (value, index) pairs, so where values tie this is the order their gradients follow."""
    def loop(first, last, depth):
        while last - first > 16:
            if depth == 0:      # too many uneven cuts: heapsort the rest, as libstdc++ does
                _libstdcxx_partial_sort(q, first, last, last, comp)
                return
            depth -= 1
            cut = _partition_pivot(q, first, last, comp)
            loop(cut, last, depth)
            last = cut

    n = len(q)
    if n > 1:
        loop(0, n, 2 * (n.bit_length() - 1))
        _insertion_sort(q, 0, n, comp)
    return q


def _insertion_sort(q, first, last, comp):
    """Stable insertion sort of q[first:last], in place (libstdc++'s final pass of sort and nth_element)."""
    for i in range(first + 1, last):
        v, j = q[i], i
        while j > first and comp(v, q[j - 1]):
            q[j] = q[j - 1]
            j -= 1
        q[j] = v


def _libstdcxx_partial_sort(q, first, middle, last, comp):
    """``std::partial_sort`` as libstdc++ implements it: a heap of q[first:middle] that keeps the best
    elements of the rest, then sorted out of the heap."""
    def adjust(top, hole, length, value):          # __adjust_heap, then __push_heap
        child = start = hole
        while child < (length - 1) // 2:
            child = 2 * (child + 1)
            if comp(q[top + child], q[top + child - 1]):
                child -= 1
            q[top + hole] = q[top + child]
            hole = child
        if length % 2 == 0 and child == (length - 2) // 2:
            child = 2 * (child + 1)
            q[top + hole] = q[top + child - 1]
            hole = child - 1
        parent = (hole - 1) // 2
        while hole > start and comp(q[top + parent], value):
            q[top + hole] = q[top + parent]
            hole, parent = parent, (parent - 1) // 2
        q[top + hole] = value

    size = middle - first
    if size > 1:                                   # __make_heap
        for parent in range((size - 2) // 2, -1, -1):
            adjust(first, parent, size, q[first + parent])
    for i in range(middle, last):                  # __heap_select
        if comp(q[i], q[first]):
            value, q[i] = q[i], q[first]
            adjust(first, 0, size, value)
    for end in range(middle - 1, first, -1):       # __sort_heap
        value, q[end] = q[end], q[first]
        adjust(first, 0, end - first, value)
    return q


def _partition_pivot(q, first, last, comp):
    """libstdc++'s ``__unguarded_partition_pivot``: the median of q[first+1], the middle and q[last-1]
    moved to ``first``, then Hoare's partition around it; returns the cut."""
    mid = first + (last - first) // 2
    a, b, c = first + 1, mid, last - 1
    if comp(q[a], q[b]):
        pick = b if comp(q[b], q[c]) else (c if comp(q[a], q[c]) else a)
    elif comp(q[a], q[c]):
        pick = a
    elif comp(q[b], q[c]):
        pick = c
    else:
        pick = b
    q[first], q[pick] = q[pick], q[first]
    lo, hi = first + 1, last
    while True:
        while comp(q[lo], q[first]):
            lo += 1
        hi -= 1
        while comp(q[first], q[hi]):
            hi -= 1
        if not lo < hi:
            return lo
        q[lo], q[hi] = q[hi], q[lo]
        lo += 1


def _torch_sort_order(row, descending):
    """The index order PyTorch's (unstable) CPU sort gives one row."""
    q = [(float(v), i) for i, v in enumerate(row)]
    _libstdcxx_sort(q, (lambda u, v: u[0] > v[0]) if descending else (lambda u, v: u[0] < v[0]))
    return np.array([i for _, i in q])


def _torch_topk_order(row, k):
    """The index order PyTorch's CPU topk produces for one row (std::nth_element then std::sort on
    the first k-1, as libstdc++ implements them), so tied picks land where PyTorch puts them."""
    q = [(float(v), i) for i, v in enumerate(row)]
    n = len(q)

    def comp(u, v):
        return u[0] > v[0]

    if k * 64 <= n:                                # few picks: PyTorch takes std::partial_sort
        return np.array([i for _, i in _libstdcxx_partial_sort(q, 0, k, n, comp)[:k]])
    first, last, nth = 0, n, k - 1
    while last - first > 3:
        lo = _partition_pivot(q, first, last, comp)
        if lo <= nth:
            first = lo
        else:
            last = lo
    _insertion_sort(q, first, last, comp)
    head = _libstdcxx_sort(q[:k - 1], comp) + q[k - 1:k]         # then std::sort on the first k - 1
    return np.array([i for _, i in head])


def _selection(op, x2, kind, k=None, q=None, descending=False, method=None, whole=False):
    """COO (rows, cols, vals) of W for the order statistic ``kind`` on rows ``x2`` (B, n)."""
    policy = current()
    B, n = x2.shape
    rule = "split" if policy.is_default else effective_rule(policy, op, TIE)
    if rule == "default":
        rule = "split"
    sign = -1 if descending else 1
    directional = rule == "directional"
    if directional:
        # x + t v ordered: tied values are ordered by their tangents (lexicographically); what
        # still ties after every direction shares evenly
        found = running_directions()
        tans = list(found[0]) if found and found[0] is not None else []
        keys = [np.broadcast_to(np.arange(n), (B, n))] + [sign * np.asarray(t) for t in reversed(tans)] + [sign * x2]
        order = np.lexsort(keys, axis=-1)
        sv = np.take_along_axis(x2, order, axis=1)
        sorted_tans = [np.take_along_axis(np.asarray(t), order, axis=1) for t in tans]
        start, end = _groups(sv, *sorted_tans)
        if policy.audit is not None:
            # how many tied elements (by value alone) each direction separated
            tied_before = _tied(_groups(sv))
            total, counts = int(np.count_nonzero(tied_before)), []
            for depth in range(len(sorted_tans)):
                still = _tied(_groups(sv, *sorted_tans[:depth + 1]))
                counts.append(int(np.count_nonzero(tied_before)) - int(np.count_nonzero(still)) - sum(counts))
            policy.audit.record_ties(op, running().site, tied_before, None, rule, x2)
            policy.audit.record_directional(op, running().site, counts, total)
        rule = "split"
    else:
        order = np.argsort(sign * x2, axis=1, kind="stable")
        sv = np.take_along_axis(x2, order, axis=1)
        start, end = _groups(sv)
    # which sorted positions feed which outputs, with interpolation weights
    if kind == "sort":
        out_j, pos, w = np.arange(n), np.arange(n), np.ones(n)
    elif kind == "topk":
        out_j, pos, w = np.arange(k), np.arange(k), np.ones(k)
    elif kind in ("median", "quantile"):
        if kind == "median" and rule == "torch":
            # PyTorch: the full reduction shares the lower median among its ties; along an axis the
            # lower middle element of the stable order (index breaks ties) takes it all
            rule = "lower" if whole else "lower-first"
        middle = rule[:5] if kind == "median" and rule in ("lower", "upper", "lower-first") else None
        if middle is not None:
            rule = "first" if rule == "lower-first" else "split"
        elif kind == "median" and rule == "linear":
            rule = "first"
        at = (0.5 if kind == "median" else q) * (n - 1)
        lo, hi = int(np.floor(at)), int(np.ceil(at))
        if middle is not None or lo == hi:
            out_j, pos, w = np.array([0]), np.array([hi if middle == "upper" else lo]), np.array([1.0])
        else:
            frac = at - lo
            out_j, pos, w = np.array([0, 0]), np.array([lo, hi]), np.array([1 - frac, frac])
    else:
        raise ValueError(kind)
    kout = int(out_j.max()) + 1
    rows_b = np.repeat(np.arange(B), len(pos))
    pos_b = np.tile(pos, B)
    w_b = np.tile(w, B)
    tied = end[rows_b, pos_b] > start[rows_b, pos_b]
    if policy.audit is not None and not directional:       # directional ties were recorded above
        policy.audit.record_ties(op, running().site, tied, None, rule, x2)
    if rule == "raise" and tied.any():
        raise_at(op, TIE, tied, [x2[rows_b, order[rows_b, pos_b]]], running().site)
    if rule == "torch":
        rule = "first"
        if tied.any():
            for r in np.unique(rows_b[tied]):
                if kind == "topk":
                    order[r, :k] = _torch_topk_order(x2[r], k)
                else:
                    order[r] = _torch_sort_order(x2[r], descending)
    r, p, e, v = _expand(rows_b, pos_b, w_b, start, end, order, rule, descending, n, policy.rng)
    j = _out_index(p, pos, out_j)      # the output each (row, position) entry feeds
    return (r * kout + j).astype(np.intp), (r * n + e).astype(np.intp), v.astype(float), (B, kout)


def _out_index(p, pos, out_j):
    lookup = np.full(int(pos.max()) + 1, -1)
    lookup[pos] = out_j
    return lookup[p]


def _order_value(x2, kind, k=None, q=None, descending=False, method=None, whole=False):
    if kind == "sort":
        s = np.sort(x2, axis=1, kind="stable")
        return np.flip(s, axis=1) if descending else s
    if kind == "topk":
        order = np.argsort(-x2, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(x2, order, axis=1)
    if kind == "median":
        return np.median(x2, axis=1, keepdims=True)
    if kind == "quantile":
        return np.quantile(x2, q, axis=1, keepdims=True)
    raise ValueError(kind)


def _order_prim(name, rules=None):
    def vjp(m, g, out, x2, **spec):
        rows, cols, vals, shape = _selection(name, _raw(x2), **spec)
        return m.select_transpose(g, rows, cols, vals, shape_of(x2))

    def jvp(m, t, out, x2, **spec):
        return _apply_marked(m, t, *_selection(name, _raw(x2), **spec))

    return Primitive(name, _order_value, vjp=vjp, jvp=jvp, kinks=tie("equal values in the row", rules),
                     doc=f"{name} along the last axis of a 2-D array")


def _raw(x):
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _apply_marked(m, t, rows, cols, vals, shape):
    """W @ t where the 'nan' rule marked some weights NaN: an output is NaN only where a marked weight
    meets a tangent that moves its element (the tied elements a direction leaves alone owe nothing,
    as in reverse mode, where only the tied elements' gradients are NaN)."""
    marked = np.isnan(vals)
    if not marked.any():
        return m.select_apply(t, rows, cols, vals, shape)
    out = m.select_apply(t, rows, cols, np.where(marked, 0.0, vals), shape)
    moved = m.select_apply(m.abs(t), rows, cols, marked.astype(float), shape)
    return m.where(moved != 0, np.nan, out)


_PRIMS = {
    "sort": _order_prim("sort", {"torch": "tied values in the order PyTorch's CPU sort (libstdc++'s introsort, "
                                          "stable up to 16 elements only) leaves them"}),
    "topk": _order_prim("topk", {"torch": "tied picks in the order PyTorch's CPU selection algorithm leaves them"}),
    "median": _order_prim("median", {
        "lower": "the lower of the two middle order statistics takes the whole gradient (ties in it share)",
        "upper": "the upper of the two middle order statistics takes the whole gradient (ties in it share)",
        "linear": "interpolation between the two middle order statistics, ties to the first in stable order",
        "torch": "PyTorch's: along an axis the lower middle element in stable order takes the whole gradient; "
                 "the full reduction shares it among the elements tied with the lower median"}),
    "quantile": _order_prim("quantile", {"torch": "the order statistics PyTorch's CPU sort leaves at the "
                                                  "chosen positions among tied values"}),
}


def _rows(x, axis, op):
    """Move ``axis`` last and flatten the rest: (B, n) rows, and how to undo it."""
    nd = ndim_of(x)
    if nd == 0:
        raise ValueError(f"{op}: needs at least one dimension, got a 0-d tensor")
    ax = normalize_axis(axis, nd, op)[0]
    perm = tuple(i for i in range(nd) if i != ax) + (ax,)
    moved = transpose(x, perm) if perm != tuple(range(nd)) else x
    lead = tuple(shape_of(moved)[:-1])
    n = shape_of(moved)[-1]
    if n == 0:
        raise ValueError(f"{op}: the axis has no elements: the tensor is empty along it (shape {tuple(shape_of(x))})")
    x2 = reshape(moved, (int(np.prod(lead, dtype=int)), n))

    def back(y2, keep=True):
        y = reshape(y2, lead + (shape_of(y2)[-1],))
        if not keep:
            return reshape(y, lead)
        inv = tuple(np.argsort(perm))
        return transpose(y, inv) if perm != tuple(range(nd)) else y

    return x2, back


@documents("sort")
def sort(x, axis=-1, descending=False):
    """Sorted values along ``axis``. Ties: the gradient follows the stable order under
    ``first`` (what frameworks do); by default tied elements share evenly."""
    if 0 in tuple(shape_of(x)):
        return x * 1               # nothing to order: an empty result, like NumPy's and PyTorch's sort
    x2, back = _rows(x, axis, "sort")
    return back(_PRIMS["sort"](x2, kind="sort", descending=bool(descending)))


@documents("topk")
def topk(x, k, axis=-1, largest=True):
    """The ``k`` largest (or smallest) values along ``axis``, sorted, and their indices."""
    n = shape_of(x)[axis] if ndim_of(x) else 0
    if not 0 < k <= n:
        raise ValueError(f"topk: k={k} is out of range for an axis of size {n}")
    x2, back = _rows(x if largest else -x, axis, "topk")
    vals = _PRIMS["topk"](x2, kind="topk", k=int(k), descending=True)
    vals = back(vals)
    raw = _raw(x if largest else -x)
    idx = np.take(np.argsort(-np.moveaxis(raw, axis, -1), axis=-1, kind="stable"), np.arange(k), axis=-1)
    return (vals if largest else -vals), Tensor._wrap(np.moveaxis(idx, -1, axis))


@documents("median")
def median(x, axis=None, keepdims=False):
    """The median along ``axis`` (all elements when None), NumPy's definition: the mean of the two
    middle values for an even count. Ties in the middle share the gradient evenly by default."""
    if axis is None:
        if 0 in tuple(shape_of(x)):
            raise ValueError(f"median: the tensor is empty (shape {tuple(shape_of(x))}); it has no median")
        y = _PRIMS["median"](reshape(x, (1, -1)), kind="median", whole=True)
        return reshape(y, (1,) * ndim_of(x)) if keepdims else reshape(y, ())
    x2, back = _rows(x, axis, "median")
    y = back(_PRIMS["median"](x2, kind="median"), keep=keepdims)
    return y


@documents("quantile")
def quantile(x, q, axis=None, keepdims=False):
    """The ``q``-quantile (0 <= q <= 1) with linear interpolation between order statistics."""
    if not 0 <= q <= 1:
        raise ValueError(f"quantile: q={q} must lie in [0, 1]")
    if axis is None:
        if 0 in tuple(shape_of(x)):
            raise ValueError(f"quantile: the tensor is empty (shape {tuple(shape_of(x))}); it has no quantile")
        y = _PRIMS["quantile"](reshape(x, (1, -1)), kind="quantile", q=float(q))
        return reshape(y, (1,) * ndim_of(x)) if keepdims else reshape(y, ())
    x2, back = _rows(x, axis, "quantile")
    return back(_PRIMS["quantile"](x2, kind="quantile", q=float(q)), keep=keepdims)


# -- running extremes ----------------------------------------------------------------------------
def _cum_selection(op, x2, largest):
    policy = current()
    B, n = x2.shape
    rule = "split" if policy.is_default else effective_rule(policy, op, TIE)
    if rule == "default":
        rule = "split"
    run = (np.maximum if largest else np.minimum).accumulate(x2, axis=1)
    idx = np.broadcast_to(np.arange(n), (B, n))
    attains = x2 == run
    # plateau start: the first index at which the running extreme reached its current value
    new = np.ones((B, n), dtype=bool)
    new[:, 1:] = run[:, 1:] != run[:, :-1]
    start = np.maximum.accumulate(np.where(new, idx, 0), axis=1)
    cum = np.cumsum(attains, axis=1)
    before = np.where(start > 0, np.take_along_axis(cum, np.maximum(start - 1, 0), axis=1), 0)
    count = cum - before                                   # candidates for output j
    tied = count > 1
    if policy.audit is not None:
        policy.audit.record_ties(op, running().site, tied, None, rule, x2)
    if rule == "raise" and tied.any():
        raise_at(op, TIE, tied, [x2], running().site)
    rows = np.repeat(np.arange(B), n)
    js = np.tile(np.arange(n), B)
    if rule == "first" or not tied.any():
        return rows * n + js, rows * n + start.ravel(), np.ones(B * n), (B, n)
    if rule == "last":
        latest = np.maximum.accumulate(np.where(attains, idx, -1), axis=1)
        return rows * n + js, rows * n + latest.ravel(), np.ones(B * n), (B, n)
    # spread each output over its candidates
    cnt = count.ravel()
    ridx = np.repeat(np.arange(B * n), cnt)
    r_of, j_of = rows[ridx], js[ridx]
    att_flat = np.flatnonzero(attains.ravel())             # attaining elements, row-major
    first_att = np.searchsorted(att_flat, (rows * n + start.ravel()))[ridx]
    offs = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    elems = att_flat[first_att + offs]
    t = tied.ravel()[ridx]
    base = np.ones(len(ridx))
    if rule == "directional":
        keep = np.ones(len(ridx), dtype=bool)
        found = running_directions()
        for tk in (found[0] if found and found[0] is not None else []):
            key = np.where(keep, (1 if largest else -1) * np.asarray(tk).ravel()[r_of * n + elems], -np.inf)
            best = np.full(B * n, -np.inf)
            np.maximum.at(best, ridx, key)
            keep &= key == best[ridx]
        kept = np.bincount(ridx, weights=keep, minlength=B * n)
        if policy.audit is not None:
            policy.audit.record_directional(op, running().site, [int(np.count_nonzero(tied.ravel() & (kept == 1)))],
                                            int(np.count_nonzero(tied)))
        return (r_of * n + j_of), (r_of * n + elems), keep / kept[ridx], (B, n)
    win = base                                             # a candidate moved toward winning takes it alone
    lose = np.where(t, 0.0, base)                          # moved away, it keeps it only if it was alone
    if rule == "split":
        vals = base / cnt[ridx]
    elif rule == "right":
        vals = win if largest else lose
    elif rule == "left":
        vals = lose if largest else win
    elif rule == "mid":
        vals = (win + lose) / 2
    elif rule == "zero":
        vals = np.where(t, 0.0, base)
    elif rule == "nan":
        vals = np.where(t, np.nan, base)
    elif isinstance(rule, (int, float)) and not isinstance(rule, bool):
        vals = np.where(t, float(rule), base)
    elif rule == "random":
        u = policy.rng.random(len(ridx))
        groups = np.repeat(np.arange(B * n), cnt)
        best = np.full(B * n, -1.0)
        np.maximum.at(best, groups, u)
        keep = u == best[groups]
        vals = keep.astype(float)
    else:
        raise ValueError(f"{op}: rule {rule!r} does not apply to ties")
    return (r_of * n + j_of), (r_of * n + elems), vals, (B, n)


def _cum_prim(name, largest):
    def vjp(m, g, out, x2):
        rows, cols, vals, shape = _cum_selection(name, _raw(x2), largest)
        return m.select_transpose(g, rows, cols, vals, shape_of(x2))

    def jvp(m, t, out, x2):
        return _apply_marked(m, t, *_cum_selection(name, _raw(x2), largest))

    acc = np.maximum if largest else np.minimum
    return Primitive(name, lambda x2: acc.accumulate(x2, axis=1), vjp=vjp, jvp=jvp,
                     kinks=tie("an element equal to the running extreme"),
                     doc=f"running {'max' if largest else 'min'} along the last axis")


_CUMMAX, _CUMMIN = _cum_prim("cummax", True), _cum_prim("cummin", False)


@documents("cummax")
def cummax(x, axis=0):
    """Running maximum along ``axis``. Ties (an element equal to the running max) share by default;
    the ``torch`` preset gives each output to the latest tied element, ``jax`` splits."""
    x2, back = _rows(x, axis, "cummax")
    return back(_CUMMAX(x2))


@documents("cummin")
def cummin(x, axis=0):
    """Running minimum along ``axis`` (ties as in ``cummax``)."""
    x2, back = _rows(x, axis, "cummin")
    return back(_CUMMIN(x2))
