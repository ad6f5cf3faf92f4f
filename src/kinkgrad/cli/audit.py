"""``kinkgrad audit MODEL.onnx``: where does a model trained elsewhere sit on kinks, and does its
gradient depend on the convention?

Runs one batch (from ``--inputs``, or random within the inputs' declared shapes) through the model
imported by ``kg.onnx.load``, differentiates ``<w, output>`` for a fixed random ``w`` with respect to
the inputs or the weights, and reports:

* the kink hits per ONNX node (``kg.audit()`` under ``kg.name_scope(node)``): elements on a kink, and
  how many of them had a nonzero upstream gradient (only those make the result depend on a convention);
* the gradient under the ``default``, ``torch``, ``jax`` and ``tensorflow`` presets and in directional
  mode (the certified generalized gradient), each compared with the default one;
* how many gradient elements depend on the convention (they differ between any two of those, or
  between the one-sided ``left`` and ``right`` conventions), and the largest disagreement between
  two conventions as a relative norm ``|g_a - g_b| / max(|g_a|, |g_b|)``.
"""
from __future__ import annotations

import contextlib
import itertools
import json
import sys

import numpy as np

import kinkgrad as kg

CONVENTIONS = ("default", "torch", "jax", "tensorflow", "directional")
ONE_SIDED = ("left", "right")


def add_arguments(parser):
    parser.add_argument("model", help="the ONNX file")
    parser.add_argument("--inputs", help="a .npy file (one input) or .npz file (arrays named as the inputs)")
    parser.add_argument("--batch", type=int, help="batch size of the random inputs (default: the declared one, or 8)")
    parser.add_argument("--wrt", choices=("inputs", "weights"), default="inputs",
                        help="differentiate with respect to the inputs (default) or the weights")
    parser.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs, cotangent and direction")


def main(args):
    try:
        report = audit_model(args.model, inputs=args.inputs, batch=args.batch, wrt=args.wrt, seed=args.seed)
    except (OSError, ValueError, TypeError, NotImplementedError) as e:    # a bad file or argument: say which
        sys.stderr.write(f"kinkgrad audit: {e}\n")
        return 2
    sys.stdout.write(render(report) + "\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0


def audit_model(path, inputs=None, batch=None, wrt="inputs", seed=0):
    """The audit as a dict (what ``--json`` writes)."""
    model = kg.onnx.load(path)
    rng = np.random.default_rng(seed)
    arrays, origin = _batch(model, inputs, batch, rng)
    cotangents = None
    hits, out_shapes = None, None
    grads = {}
    for convention in ("default",) + CONVENTIONS[1:] + ONE_SIDED:
        leaves, args = _leaves(model, arrays, wrt)
        counting = kg.audit() if convention == "default" else contextlib.nullcontext()
        with counting as report, kg.kinks(convention, seed=seed if convention == "directional" else None):
            outs = model(*args)
            outs = [o for o in (outs if isinstance(outs, tuple) else (outs,)) if o.dtype.kind == "f"]
            if not outs:
                raise ValueError(f"kinkgrad audit: {path} has no floating-point output to differentiate")
            if cotangents is None:
                cotangents = [rng.standard_normal(o.shape).astype(o.dtype) for o in outs]
                out_shapes = [list(o.shape) for o in outs]
            loss = sum((o * w).sum() for o, w in zip(outs, cotangents))
            loss.backward()
        grads[convention] = np.concatenate([np.zeros(t.size) if t.grad is None else
                                            np.asarray(t.grad.numpy(), dtype=np.float64).ravel() for t in leaves])
        if convention == "default":
            hits = _node_rows(model, report)
            audit_totals = {"at_kink": report.hits, "dependent": report.dependent, "semantics": report.semantics}
    base = grads["default"]
    stacked = np.stack([grads[c] for c in CONVENTIONS + ONE_SIDED])
    differing = np.any(stacked != stacked[0], axis=0)
    pairs = [(a, b, _rel(grads[a], grads[b])) for a, b in itertools.combinations(CONVENTIONS, 2)]
    worst = max(pairs, key=lambda p: p[2])
    return {
        "model": str(path), "opset": model.opset, "nodes": len(model.nodes), "parameters": len(model.parameters()),
        "inputs": origin, "outputs": out_shapes, "wrt": wrt, "seed": seed, "gradient_elements": int(base.size),
        "node_hits": hits, "audit": audit_totals,
        "conventions": {c: {"norm": float(np.linalg.norm(grads[c])),
                            "relative_difference_from_default": _rel(grads[c], base),
                            "elements_differing_from_default": int(np.count_nonzero(grads[c] != base))}
                        for c in CONVENTIONS},
        "convention_dependent_elements": int(np.count_nonzero(differing)),
        "largest_disagreement": {"between": [worst[0], worst[1]], "relative_norm": worst[2]},
    }


def _rel(a, b):
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    return float(np.linalg.norm(a - b) / scale) if scale > 0 else 0.0


def _leaves(model, arrays, wrt):
    """Fresh input tensors and the tensors to differentiate (float inputs, or the Parameters)."""
    args = [kg.tensor(a, requires_grad=(wrt == "inputs" and a.dtype.kind == "f")) for a in arrays]
    if wrt == "inputs":
        leaves = [t for t in args if t.requires_grad]
        if not leaves:
            raise ValueError("kinkgrad audit: the model has no floating-point input; use --wrt weights")
    else:
        leaves = model.parameters()
        for p in leaves:
            p.grad = None
        if not leaves:
            raise ValueError("kinkgrad audit: the model has no weights (float initializers); use --wrt inputs")
    return leaves, args


def _batch(model, inputs, batch, rng):
    """The input arrays, and a description of where they came from."""
    if inputs is not None:
        data = np.load(inputs, allow_pickle=False)         # never unpickles: plain arrays only
        if isinstance(data, np.ndarray):
            if len(model.inputs) != 1:
                raise ValueError(f"kinkgrad audit: the model has {len(model.inputs)} inputs "
                                 f"({', '.join(model.input_names)}); give an .npz file with one array per name")
            data = {model.input_names[0]: data}
        missing = [n for n in model.input_names if n not in data]
        if missing:
            raise ValueError(f"kinkgrad audit: {inputs} lacks input(s) {', '.join(missing)}")
        arrays = [np.asarray(data[n]) for n in model.input_names]
        return arrays, [{"name": n, "dtype": a.dtype.name, "shape": list(a.shape), "from": str(inputs)}
                        for n, a in zip(model.input_names, arrays)]
    arrays, origin = [], []
    for name, dtype, shape in model.inputs:
        if shape is None:
            raise ValueError(f"kinkgrad audit: input {name!r} declares no shape; give --inputs")
        dims = []
        for axis, d in enumerate(shape):
            if isinstance(d, int) and d > 0:
                if axis == 0 and batch is not None and batch != d:
                    raise ValueError(f"kinkgrad audit: input {name!r} was exported with a fixed batch of {d}; "
                                     f"--batch {batch} needs a model exported with a dynamic batch axis (or give "
                                     "--inputs)")
                dims.append(d)
            elif axis == 0:
                dims.append(batch or 8)
            else:
                raise ValueError(f"kinkgrad audit: input {name!r} has an unknown size at axis {axis} ({d!r}); "
                                 "give --inputs")
        if dtype.kind == "f":
            arrays.append(rng.standard_normal(dims).astype(dtype))
        elif dtype.kind == "b":
            arrays.append(rng.random(dims) < 0.5)
        else:
            raise ValueError(f"kinkgrad audit: input {name!r} is {dtype.name}: random values would mean nothing; "
                             "give --inputs")
        origin.append({"name": name, "dtype": dtype.name, "shape": dims, "from": "random normal" if dtype.kind == "f"
                       else "random"})
    return arrays, origin


def _node_rows(model, report):
    """One row per ONNX node that holds a kinked op: elements evaluated, on a kink, and dependent (the
    largest count over the op's inputs: a tie between two inputs is one element, recorded for both)."""
    op_type = dict(model.nodes)
    rows = {}
    for r in report.to_dict()["rows"]:
        key = (r["scope"], r["op"])
        row = rows.setdefault(key, {"node": r["scope"], "onnx_op": op_type.get(r["scope"], "?"), "op": r["op"],
                                    "dtype": r["dtype"], "evaluated": 0, "at_kink": 0, "dependent": 0})
        for k in ("evaluated", "at_kink", "dependent"):
            row[k] = max(row[k], r[k])
    order = {name: i for i, (name, _) in enumerate(model.nodes)}
    return sorted(rows.values(), key=lambda row: (order.get(row["node"], len(order)), row["op"]))


def render(rep):
    lines = [f"kinkgrad audit: {rep['model']} (opset {rep['opset']}, {rep['nodes']} nodes, "
             f"{rep['parameters']} weight tensors)"]
    for i in rep["inputs"]:
        lines.append(f"input {i['name']}: {i['dtype']} {tuple(i['shape'])}, {i['from']}")
    lines.append(f"gradient of <w, output> (w fixed, random, seed {rep['seed']}) with respect to the {rep['wrt']}: "
                 f"{rep['gradient_elements']} elements")
    lines.append("")
    lines.append("kink hits per node (dependent: hits whose upstream gradient was nonzero)")
    head = ["node", "onnx op", "kinkgrad op", "dtype", "evaluated", "at kink", "dependent"]
    body = [[r["node"] or "-", r["onnx_op"], r["op"], r["dtype"], str(r["evaluated"]), str(r["at_kink"]),
             str(r["dependent"])] for r in rep["node_hits"]]
    body.append(["total", "", "", "", "", str(sum(r["at_kink"] for r in rep["node_hits"])),
                 str(sum(r["dependent"] for r in rep["node_hits"]))])
    lines += _table(head, body)
    lines.append("")
    lines.append("gradient under each convention")
    head = ["convention", "norm", "rel. difference from default", "elements differing from default"]
    body = [[c, f"{v['norm']:.6g}", f"{v['relative_difference_from_default']:.3g}",
             str(v["elements_differing_from_default"])] for c, v in rep["conventions"].items()]
    lines += _table(head, body)
    lines.append("")
    n, total = rep["convention_dependent_elements"], rep["gradient_elements"]
    lines.append(f"gradient elements that depend on the convention: {n} of {total} ({100 * n / max(total, 1):.2f}%)")
    worst = rep["largest_disagreement"]
    lines.append(f"largest disagreement: {worst['between'][0]} vs {worst['between'][1]}, relative norm "
                 f"{worst['relative_norm']:.3g}")
    return "\n".join(lines)


def _table(head, body):
    widths = [max(len(h), *(len(row[i]) for row in body)) for i, h in enumerate(head)]
    out = ["  ".join(h.ljust(w) for h, w in zip(head, widths))]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in body]
    return out
