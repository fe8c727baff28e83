"""``make comparison``: CarbonMeter's builtin figures beside the Boavizta API's and Cloud Carbon Footprint's formula.

Every case is one EC2 instance-hour: an instance type, a region and a CPU load. Its usage record is made the way the
collector makes it: the instance is launched in moto's in-process EC2 emulator (whose DescribeInstanceTypes answers
are AWS's published sizes, processors and GPUs) and the EC2 collector discovers it and turns the load into the hour's
record. That record then goes through

- the builtin provider (``provider_for`` with the default settings): what CarbonMeter stores;
- the Boavizta provider (``provider_for`` with ``emissions_provider="boavizta"``) against a real Boavizta API
  server, started here from ``.build/boavizta-venv`` unless ``--boavizta-url`` names one: what the records carry
  with ``--provider boavizta``, fallbacks to builtin included;
- ``ccf_formula``: Cloud Carbon Footprint's (CCF) published formula with CCF's own, uncorrected coefficients
  (CarbonMeter's data files, with ``data/ccf-reference.csv`` giving back CCF's values where CarbonMeter corrected
  them). It is a reference for this comparison only.

The output is Markdown: the figures, the ratios builtin/Boavizta and builtin/CCF, and every ratio outside 0.5-2x
with the cause the script can tell. ``--write docs/comparison.md`` replaces that file's part between the markers
and keeps the hand-written text around them. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from carbonmeter import cli
from devtools.boavizta_server import BoaviztaServerError, running_boavizta
from devtools.comparison.cases import CASES, Case
from devtools.comparison.document import ComparisonError, generated_span, write_generated
from devtools.comparison.markdown import render
from devtools.comparison.rows import compare
from devtools.progress import say


@contextmanager
def boavizta_at(url: str | None, say: Callable[[str], None]) -> Iterator[str]:
    """``url`` when given, else a Boavizta server started for the run from ``.build/boavizta-venv``."""
    if url:
        yield url
        return
    say("starting the Boavizta API server (make install builds it)")
    with running_boavizta() as started:
        say(f"Boavizta API server listening on {started}")
        yield started


def selected(cases: Sequence[Case], instance_types: Sequence[str] | None) -> list[Case]:
    """The cases of ``instance_types`` (all cases when None), in their table order."""
    if not instance_types:
        return list(cases)
    unknown = set(instance_types) - {case.instance_type for case in cases}
    if unknown:
        raise ComparisonError(f"no comparison case for {', '.join(sorted(unknown))}")
    return [case for case in cases if case.instance_type in instance_types]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.comparison", description=__doc__)
    parser.add_argument("--boavizta-url", help="a running Boavizta API server (default: start one for the run)")
    parser.add_argument("--write", type=Path, metavar="PATH", help="replace the generated block of PATH")
    parser.add_argument("--types", type=cli._csv, help="only the cases of these instance types (comma-separated)")
    args = parser.parse_args(argv)
    try:
        cases = selected(CASES, args.types)
        if args.write:
            # Before the long run: a document that cannot take the tables fails now, not after it.
            generated_span(args.write.read_text(encoding="utf-8"))
        with boavizta_at(args.boavizta_url, say) as url:
            generated = render(compare(cases, url, say))
        if args.write:
            write_generated(args.write, generated)
            say(f"wrote the generated block of {args.write}")
    except (ComparisonError, BoaviztaServerError, OSError) as exc:
        say(f"comparison failed: {exc}")
        return 1
    print(generated, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
