"""``python -m kinkgrad study relu0``: published experiments on kinks, reproduced live.

``relu0``: Bertoin, Bolte, Gerchinovitz & Pauwels, "Numerical influence of ReLU'(0) on
backpropagation" (NeurIPS 2021) on scikit-learn's digits: how often relu'(0) = 0 and relu'(0) = 1
give different gradients in float16 / float32 / float64, and what the choice does to test accuracy
with SGD, Adam and batch norm. Prints the tables and where the reproduction agrees with the paper,
saves a PNG (``--png``) and the numbers (``--json``).
"""
from __future__ import annotations

import json
import sys

from . import relu0

STUDIES = {"relu0": relu0}


def add_arguments(parser):
    parser.add_argument("name", choices=sorted(STUDIES), help="which study: relu0 (the ReLU'(0) paper)")
    parser.add_argument("--quick", action="store_true",
                        help="a small run (about 10-30 s on 2 cores) for tests and a first look")
    parser.add_argument("--json", metavar="PATH", help="write the numbers as JSON")
    parser.add_argument("--png", metavar="PATH", default="relu0_study.png",
                        help="where to save the figure (default: relu0_study.png; 'none' to skip)")
    parser.add_argument("--seeds", type=int, help="seeds of the accuracy part (overrides the mode's)")
    parser.add_argument("--epochs", type=int, help="epochs of the accuracy part (overrides the mode's)")
    parser.add_argument("--verbose", action="store_true", help="print progress per epoch")


def main(args):
    study = STUDIES[args.name]
    log = (lambda line: print(line, file=sys.stderr, flush=True)) if args.verbose else None
    result = study.run("quick" if args.quick else "full", log=log, acc_seeds=args.seeds, acc_epochs=args.epochs)
    sys.stdout.write(study.table(result))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1)
        print(f"numbers written to {args.json}")
    if args.png and args.png.lower() != "none":
        study.figure(result).savefig(args.png, dpi=110)
        print(f"figure written to {args.png}")
