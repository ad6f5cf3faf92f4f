"""The resolver: the single choke point where every derivative at a kink, tie or singular point
is decided.

Ops hand over their natural derivative (which already holds the ``default`` value at kinks) plus
their kink declaration; the resolver applies the active policy, records the decision for an
audit, raises under ``raise``. Under the default policy (no overrides, no audit) it returns the
natural derivative untouched without even locating the kinks, so the common path pays nothing.
"""
from __future__ import annotations

import numpy as np

from ..context import running, running_directions
from ..kernels import reduce_small_axes
from .declare import TIE, for_input
from .policy import current

# rules under which an op's own formula is already right (nothing to patch)
_NATURAL = {"kink": ("default",), "jump": ("default",), "tie": ("default", "split"),
            "singular": ("default", "limit")}


class KinkError(ArithmeticError):
    """Raised under ``kinks("raise")`` when a derivative is requested at a kink."""


def _min_norm(left, right):
    """The element of [min(l, r), max(l, r)] closest to 0."""
    lo, hi = np.minimum(left, right), np.maximum(left, right)
    return np.where(lo > 0, lo, np.where(hi < 0, hi, 0.0))


def effective_rule(policy, op, kink):
    """The rule that decides this kink, after per-label dicts and the ``singular=`` option."""
    rule = policy.rule_for(op, tie=kink.kind == "tie")
    if isinstance(rule, dict):
        rule = rule.get(kink.label, "default")
    if kink.kind == "singular" and isinstance(rule, str) and rule in ("default", "limit"):
        rule = policy.singular
    return rule


def is_natural(rule, kind):
    return isinstance(rule, str) and rule in _NATURAL[kind]


def side_value(rule, left, right, xs, params, shape, policy, i=0, n_args=1):
    """The derivative a rule assigns at a kink with one-sided derivatives ``left`` / ``right``."""
    if callable(rule):
        return rule(left, right, xs, params)
    if isinstance(rule, (int, float, np.floating)) and not isinstance(rule, bool):
        return float(rule)
    if rule == "default" or rule == "limit":
        return _min_norm(left, right)
    if rule == "left":
        return left
    if rule == "right":
        return right
    if rule == "mid":
        return (np.asarray(left, dtype=float) + np.asarray(right, dtype=float)) / 2
    if rule == "zero":
        return 0.0
    if rule == "nan":
        return np.nan
    if rule == "random":
        u = policy.rng.random(shape)
        return np.asarray(left, dtype=float) * (1 - u) + np.asarray(right, dtype=float) * u
    if rule == "split":
        return 1.0 / n_args
    if rule == "first":
        return 1.0 if i == 0 else 0.0
    if rule == "last":
        return 1.0 if i == n_args - 1 else 0.0
    raise ValueError(f"unknown kink rule {rule!r}")


def resolve_elementwise(op, kinks, i, d, m, raw_xs, params, g=None, site=None, directions=None):
    """Patch ``d`` (= d out / d input i of ``op``, which declared ``kinks``) at the kink elements
    according to the active policy. ``g``: the upstream cotangent (None in forward mode), for the
    audit; ``directions``: the tangents of the op's inputs along the probing directions, or a
    function computing them (directional mode)."""
    policy = current()
    if policy.is_default:
        return d
    kink = for_input(kinks, i)
    if kink is None:
        return d
    rule = effective_rule(policy, op, kink)
    natural = is_natural(rule, kink.kind)
    if natural and policy.audit is None:
        return d
    mask = kink.at(*raw_xs, **params)
    forward_probe = rule == "directional" and g is None   # the directional forward pass: counted in backward
    if policy.audit is not None and not forward_probe:
        policy.audit.record(op, site, kink, mask, raw_xs, g, rule, i,
                            near=kink.near(policy.audit.tol, raw_xs, params))
    if natural or not np.any(mask):
        return d
    if rule == "raise":
        raise_at(op, kink, mask, raw_xs, site)
    left, right = kink.one_sided(raw_xs, params)
    if rule == "directional":
        dirs = directions() if callable(directions) else directions
        if dirs is None or all(dl is None for dl in dirs):
            return d    # no direction reaches this op: it does not depend on the inputs
        chosen, decided = _directional_value(op, kink, i, left, right, raw_xs, params, dirs, mask,
                                             None if forward_probe else policy.audit, site)
        sel = np.asarray(mask).copy()
        sel[sel] = decided          # undecided kinks (flat along every direction) keep the default value
        if isinstance(d, np.ndarray):
            out = np.array(np.broadcast_to(d, np.shape(mask)), dtype=np.result_type(d, np.float16))
            out[sel] = chosen[decided]
            return out
        full = np.zeros(np.shape(mask))
        full[sel] = chosen[decided]
        return m.where(sel, full, d)
    else:
        value = side_value(rule, left, right, raw_xs, params, np.shape(mask), policy, i, len(raw_xs))
    if isinstance(value, np.ndarray):
        value = value.astype(np.result_type(d), copy=False)
    return m.where(mask, value, d)


def _directional_value(op, kink, i, left, right, raw_xs, params, dirs, mask, audit, site):
    """The one-sided derivative on the side the probing directions point to (lexicographically),
    at the ``mask`` elements in their order, and which of them some direction decided."""
    K = max(len(dl) for dl in dirs if dl is not None)
    sel = np.asarray(mask)
    shape = sel.shape
    switches = [np.broadcast_to(kink.switch(i, [None if dl is None else dl[k] for dl in dirs], raw_xs, params),
                                shape)[sel] for k in range(K)]
    sign, counts = first_nonzero_sign(switches)
    undecided = len(sign) - sum(counts)
    if undecided:
        policy_undecided(undecided)
    if audit is not None:
        audit.record_directional(op, site, counts, len(sign))
    left = np.broadcast_to(left, shape)[sel] if np.ndim(left) else left
    right = np.broadcast_to(right, shape)[sel] if np.ndim(right) else right
    return np.broadcast_to(np.where(sign > 0, right, left), sign.shape), sign != 0


def first_nonzero_sign(switches):
    """Elementwise sign of the first nonzero entry of ``switches`` (a list of arrays): +1 / -1, 0 if
    all are 0 (the lexicographic rule). Also returns how many elements each direction decided."""
    sign = np.sign(switches[0])
    counts = [int(np.count_nonzero(sign))]
    for s in switches[1:]:
        take = (sign == 0) & (np.sign(s) != 0)
        sign = np.where(take, np.sign(s), sign)
        counts.append(int(np.count_nonzero(take)))
    return sign, counts


def policy_undecided(n):
    """Directional mode: ``n`` kinks had a zero switching tangent along every direction so far
    (``kg.grad`` then retries with one more direction)."""
    current().undecided[0] += n


def raise_at(op, kink, mask, raw_xs, site):
    idx = tuple(int(v) for v in np.argwhere(np.asarray(mask))[0]) if np.ndim(mask) else ()
    x = np.asarray(raw_xs[0])
    value = x[idx] if x.ndim else x
    where = (f" (created at {site})" if site
             else " (run the forward pass inside kg.kinks('raise') to see where it was created)")
    raise KinkError(f"{op}: derivative requested at a {kink.kind} ({kink.where}) at element {idx}, "
                    f"value {value!r}{where}; pick a convention with kg.kinks(...) or avoid the point")


# -- ties among several candidates (max/min reductions, pooling) -------------------------------
def tie_weights(op, hit, axis, largest, g=None, x=None, out=None):
    """Weights over the candidates ``hit`` (boolean, True where an element attains the extreme
    along ``axis``) under the active tie rule; they sum to 1 per output under ``split``.

    Coordinate-wise sides: moving a tied element toward winning (up for a max) gives it the whole
    slope (``right`` for a max); moving it away gives 0 unless it was the only candidate.
    """
    policy = current()
    if policy.is_default:
        share = split_share(hit, axis, x.dtype if x is not None else np.float64, out)
        return hit if share is None else np.multiply(hit, share, dtype=share.dtype)
    count = hit.sum(axis=axis, keepdims=True)
    rule = effective_rule(policy, op, TIE)
    tied = hit & (count > 1)
    site = running().site
    if policy.audit is not None:
        policy.audit.record_ties(op, site, tied, g, rule, x)
    if is_natural(rule, "tie") or not tied.any():
        return hit / count
    if rule == "raise":
        raise_at(op, TIE, tied, [x], site)
    if rule == "directional":
        hit = refine_ties(hit, axis, largest, op, site, policy)
        return hit / hit.sum(axis=axis, keepdims=True)
    winner_up = hit.astype(float)                        # every tied element wins when it moves its way
    winner_down = np.where(tied, 0.0, hit)                # loses when it moves the other way
    if rule in ("first", "last"):
        return _one_hot_along(hit, axis, lambda h, n: np.argmin(np.where(h, np.arange(n) if rule == "first"
                                                                        else n - 1 - np.arange(n), n), axis=-1))
    if rule == "right":
        return winner_up if largest else winner_down
    if rule == "left":
        return winner_down if largest else winner_up
    if rule == "mid":
        return (winner_up + winner_down) / 2
    if rule == "zero":
        return winner_down
    if rule == "nan":
        return np.where(tied, np.nan, winner_down)
    if rule == "random":
        return _one_hot_along(hit, axis, lambda h, n: np.argmax(np.where(h, policy.rng.random(h.shape), -1.0),
                                                                 axis=-1))
    if isinstance(rule, (int, float)) and not isinstance(rule, bool):
        return np.where(tied, float(rule), hit)
    raise ValueError(f"{op}: rule {rule!r} does not apply to ties")


def split_share(hit, axis, dtype, out=None):
    """The default tie rule as a per-output factor: 1 / (number of tied candidates), or None when
    no output has a tie (the common case: one global count tells, given ``out`` to rule out NaN
    windows, which have no candidate at all). Kept per output, so a caller can scale the small
    cotangent instead of building full-size weights."""
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    outputs = hit.size // max(1, int(np.prod([hit.shape[a] for a in axes])))
    nan_free = out is not None and not (np.asarray(out).dtype.kind == "f" and np.isnan(out).any())
    if nan_free and np.count_nonzero(hit) == outputs:
        return None
    # ties (all-zero windows after a relu are common): counted in a float dtype directly
    dtype = dtype if np.dtype(dtype).kind == "f" else np.float64
    return np.reciprocal(reduce_small_axes(np.add, hit, axis, keepdims=True, dtype=dtype))


def refine_ties(hit, axis, largest, op, site, policy):
    """Directional mode: among tied candidates keep those whose tangent is largest (smallest for a
    min) along the first direction, then the next; what still ties after all directions splits."""
    found = running_directions()
    dirs = found[0] if found else None
    if dirs is None:
        return hit
    before = hit.sum(axis=axis, keepdims=True) > 1
    counts = []
    for t in dirs:
        key = np.where(hit, t if largest else -np.asarray(t), -np.inf)
        best = key.max(axis=axis, keepdims=True)
        was = hit.sum(axis=axis, keepdims=True) > 1
        hit = hit & (key == best)
        counts.append(int(np.count_nonzero(was & (hit.sum(axis=axis, keepdims=True) == 1))))
    still = int(np.count_nonzero(hit.sum(axis=axis, keepdims=True) > 1))
    if still:
        policy_undecided(still)
    if policy.audit is not None:
        policy.audit.record_directional(op, site, counts, int(np.count_nonzero(before)))
    return hit


def _one_hot_along(hit, axis, pick):
    """A one-hot over the reduced ``axis`` (an int or a tuple) at the position ``pick`` chooses
    among the candidates; the axes are flattened to one so first/last follow index order."""
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    keep = [a for a in range(hit.ndim) if a not in axes]
    moved = np.transpose(hit, keep + list(axes))
    n = int(np.prod([hit.shape[a] for a in axes]))
    flat = moved.reshape(moved.shape[:len(keep)] + (n,))
    out = np.zeros(flat.shape)
    np.put_along_axis(out, pick(flat, n)[..., None], 1.0, axis=-1)
    return np.transpose(out.reshape(moved.shape), np.argsort(keep + list(axes)))


def kink_value(op, kink, left, right, shape, raw_xs=(), params=None, mask=None, g=None):
    """For non-elementwise ops with a single kink (e.g. norm at 0): the value there, or None to
    keep the op's own (default) formula."""
    policy = current()
    if policy.is_default:
        return None
    rule = effective_rule(policy, op, kink)
    site = running().site
    if policy.audit is not None and mask is not None:
        policy.audit.record(op, site, kink, mask, raw_xs, g, rule, 0)
    if is_natural(rule, kink.kind):
        return None
    if rule == "raise" and mask is not None and np.any(mask):
        raise_at(op, kink, mask, raw_xs, site)
    if rule == "directional":
        return "directional"    # the op itself knows its smooth piece along a direction
    return side_value(rule, left, right, raw_xs, params or {}, shape, policy)
