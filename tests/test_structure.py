"""The package's architecture, held by tests: one dependency direction between the layers, module
imports that tell the truth (none hidden inside functions), and the kink model's private names kept
inside it.

Layers, bottom up (each may import only its own layer and those below):
  0. ``tensor``, ``context`` (per-call state), ``kernels``, ``_special``, ``allocator``, ``creation``
  1. ``kinks``     the kink model: declarations, presets, policy, resolver, audit
  2. ``autodiff``  the engine: primitives, reverse / forward / directional mode, transforms
  3. ``ops``       the operations (they attach the Tensor operators and methods)
  4. everything built on them (custom gradients, nn, optim, losses, testing, the CLI ...)
"""
from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import kinkgrad

PACKAGE = pathlib.Path(kinkgrad.__file__).parent
BOTTOM = {"tensor", "context", "kernels", "_special", "allocator", "creation"}
LAYER = {"kinks": 1, "autodiff": 2, "ops": 3}
OPTIONAL = {"safetensors", "tqdm", "matplotlib", "onnx", "onnxruntime", "mpi4py", "numba", "mkdocs"}


def _module_name(path):
    rel = path.relative_to(PACKAGE).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(["kinkgrad"] + parts)


def _layer(module):
    parts = module.split(".")[1:]
    if not parts:
        return 4
    if parts[0] in BOTTOM:
        return 0
    return LAYER.get(parts[0], 4)


def _resolve(module, node, is_package):
    """The absolute kinkgrad module an import statement names (None for outside packages)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.startswith("kinkgrad")]
    base = module.split(".") if is_package else module.split(".")[:-1]
    if node.level:
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if not target.startswith("kinkgrad"):
        return []
    if node.module is None:   # from . import a, b: each name is a module
        return [f"{target}.{a.name}" for a in node.names]
    return [target]


def _imports():
    """(module, imported kinkgrad module, names, inside a function?) for every import in the package."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        tree = ast.parse(path.read_text())
        inside = set()
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inside.update(id(n) for n in ast.walk(fn) if isinstance(n, (ast.Import, ast.ImportFrom)))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names]
                for target in _resolve(module, node, path.name == "__init__.py"):
                    out.append((module, target, names, id(node) in inside))
                if id(node) in inside and isinstance(node, ast.ImportFrom) and not node.level:
                    root = (node.module or "").split(".")[0]
                    if root not in OPTIONAL and root not in ("kinkgrad",):
                        out.append((module, node.module, names, True))
    return out


def test_layers_depend_only_downward():
    wrong = [f"{m} (layer {_layer(m)}) imports {t} (layer {_layer(t)})"
             for m, t, _, _ in _imports() if t.startswith("kinkgrad") and _layer(t) > _layer(m)]
    assert not wrong, "\n".join(wrong)


def test_no_import_is_hidden_inside_a_function():
    """Module-level imports tell the truth; only optional extras are imported where used."""
    hidden = [f"{m} imports {t} inside a function" for m, t, _, inside in _imports() if inside
              and (t or "").startswith("kinkgrad")]
    assert not hidden, "\n".join(hidden)


def test_no_private_name_of_the_kink_model_is_used_outside_it():
    leaks = [f"{m} imports {n} from {t}" for m, t, names, _ in _imports()
             if t.startswith("kinkgrad.kinks") and not m.startswith("kinkgrad.kinks")
             for n in names if n.startswith("_")]
    assert not leaks, "\n".join(leaks)


def test_the_checks_see_the_package():
    """The walk finds the layers it judges (so the tests above cannot pass by finding nothing)."""
    found = {(m, t) for m, t, _, _ in _imports()}
    assert ("kinkgrad.autodiff.primitive", "kinkgrad.kinks.resolve") in found
    assert ("kinkgrad.ops.nonsmooth", "kinkgrad.kinks.declare") in found
    assert len(found) > 100


def test_ruff_is_clean():
    """Line length 120, imports sorted, no unused names (configured in pyproject.toml)."""
    root = PACKAGE.parent.parent
    res = subprocess.run([sys.executable, "-m", "ruff", "check", "src", "tests", "benchmarks", "examples"], cwd=root,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
