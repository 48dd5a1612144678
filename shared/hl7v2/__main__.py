"""`python -m shared.hl7v2 COMMAND ...`: one subcommand per operator task (parse, send)."""

from __future__ import annotations

import argparse
import sys

from shared.hl7v2 import parse, send


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.hl7v2", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    parse.add_parser(commands)
    send.add_parser(commands)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
