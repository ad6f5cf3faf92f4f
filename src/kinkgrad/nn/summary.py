"""``model.summary()``: each top-level layer's name, type, output shape and weight count, then the
totals, as Keras prints them. Output shapes come from one forward pass on a zero sample of the
model's input shape (known once the model is built from a shape)."""
from __future__ import annotations

import numpy as np

import kinkgrad as kg

from .module import Module, _Spy


def _output_shapes(model, layers):
    """{id(layer): output shape with None for the batch axis}, or {} when the input shape is unknown."""
    spec = model.build_spec
    if spec is None:
        first = layers[0] if layers else None
        shape = getattr(first, "input_shape", None)
        if shape is None:
            return {}
        spec = {"shape": list(shape), "dtype": model._input_dtype().name}
    shapes, wanted = {}, {id(layer) for layer in layers}

    def record(module, args, out):
        if id(module) in wanted and id(module) not in shapes:
            shapes[id(module)] = (None,) + tuple(np.shape(getattr(out, "data", out)))[1:]

    was = model.training
    model.eval()
    _Spy.hooks.append(record)
    try:
        with kg.no_grad():
            model(np.zeros([1] + list(spec["shape"]), spec["dtype"]))
    finally:
        _Spy.hooks.remove(record)
        model.train(was)
    return shapes


def _counts(module):
    trainable = sum(p.size for _, p, is_param in module._walk_state() if is_param and p.requires_grad)
    total = sum(np.size(getattr(v, "data", v)) for _, v, _ in module._walk_state())
    return int(trainable), int(total)


def summary(model, print_fn=None):
    model._require_built("summary()")
    model._name_children()
    layers = [m for m in getattr(model, "layers", None) or model.children() if isinstance(m, Module)]
    layers = [m for m in layers if type(m).__name__ != "Input"]
    shapes = _output_shapes(model, layers)
    rows = [(f"{m.name} ({type(m).__name__})", str(shapes.get(id(m), "?")), f"{_counts(m)[1]:,}") for m in layers]
    head = ("Layer (type)", "Output Shape", "Param #")
    widths = [max([minimum, len(head[i])] + [len(r[i]) for r in rows]) + 3 for i, minimum in enumerate((26, 20, 8))]
    width = sum(widths)
    trainable, total = _counts(model)
    lines = [f'Model: "{model.name}"', "_" * width, "".join(h.ljust(w) for h, w in zip(head, widths)), "=" * width]
    for i, r in enumerate(rows):
        lines.append("".join(c.ljust(w) for c, w in zip(r, widths)))
        lines.append("_" * width if i < len(rows) - 1 else "=" * width)
    if not rows:
        lines.append("=" * width)
    lines += [f"Total params: {total:,}", f"Trainable params: {trainable:,}",
              f"Non-trainable params: {total - trainable:,}", "_" * width]
    (print_fn or print)("\n".join(line.rstrip() for line in lines))
