"""The teaching app and command line: ``python -m kinkgrad tour | table | study | audit MODEL.onnx``.

Kept apart from the library's own modules: everything here uses kinkgrad's public API only.
Each command is a module in this package with ``add_arguments(parser)`` (optional) and ``main(args)``;
``COMMANDS`` maps the command name to that module and its one-line help.
"""
from __future__ import annotations

import argparse
import importlib

COMMANDS = {
    "tour": ("tour", "answer the common questions about gradients at kinks, live"),
    "table": ("table", "the derivative at every declared kink under every preset"),
    "audit": ("audit", "kink report for an ONNX model trained elsewhere: hits per node, gradients per convention"),
    "study": ("study", "published experiments on kinks reproduced live: relu0 (ReLU'(0) and precision)"),
}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m kinkgrad", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module, help_text) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text)
        adder = getattr(_module(module), "add_arguments", None)
        if adder is not None:
            adder(cmd)
    args = parser.parse_args(argv)
    return _module(COMMANDS[args.command][0]).main(args) or 0


def _module(name):
    return importlib.import_module(f"{__name__}.{name}")
