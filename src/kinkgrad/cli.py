"""Command line: ``python -m kinkgrad tour | table``."""
from __future__ import annotations

import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m kinkgrad", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("tour", help="answer the common questions about gradients at kinks, live")
    table = sub.add_parser("table", help="the derivative at every declared kink under every preset")
    table.add_argument("--format", choices=("markdown", "csv", "json"), default="markdown")
    args = parser.parse_args(argv)
    if args.command == "tour":
        from . import tour

        tour.run()
    elif args.command == "table":
        from . import table as table_mod

        sys.stdout.write(table_mod.render(args.format))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
