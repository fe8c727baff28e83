"""``python -m devtools.costs``: print docs/deploy.md's cost table, or ``--write`` it there."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from devtools.aws.iam import synthesized_templates
from devtools.costs import markdown, write_table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.costs", description=__doc__)
    parser.add_argument("--write", type=Path, metavar="DEPLOY_MD", help="replace the table in this file")
    args = parser.parse_args(argv)
    table = markdown(synthesized_templates().stack)
    if args.write:
        write_table(args.write, table)
        print(f"wrote the cost table into {args.write}", file=sys.stderr)
    else:
        print(table, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
