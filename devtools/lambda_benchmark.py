"""The functions' own figures in ``make benchmark``: cold starts, the layer's size, peak memory, calculator speed.

``python -m devtools.lambda_benchmark`` prints them alone (about three minutes on two cores, most of it seeding the
10,000-resource fleet); ``python -m devtools.benchmark --no-lambda`` leaves them out of the whole benchmark.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from devtools import cold_starts, lambda_sizing
from devtools.benchmark import DEFAULT_REGIONS
from devtools.progress import say as _say


@dataclass(frozen=True)
class LambdaFigures:
    boto3_ms: float
    floor_ms: float
    imports: tuple[cold_starts.ImportTime, ...]
    layer: cold_starts.LayerSize
    sizing: lambda_sizing.SizingFigures

    def as_dict(self) -> dict[str, Any]:
        return {
            "boto3_import_ms": self.boto3_ms,
            "floor_import_ms": self.floor_ms,
            "imports": [dataclasses.asdict(t) for t in self.imports],
            "layer": dataclasses.asdict(self.layer),
            "sizing": {**dataclasses.asdict(self.sizing), "throughput_ratio": self.sizing.throughput_ratio},
        }


def measure(
    regions: Sequence[str] = DEFAULT_REGIONS,
    *,
    size: int = lambda_sizing.DEFAULT_SIZE,
    repeats: int = cold_starts.DEFAULT_REPEATS,
    say: Callable[[str], None] = _say,
) -> LambdaFigures:
    say(f"[lambda] each handler's import time, {repeats} rounds in fresh interpreters")
    boto3_ms, floor_ms, imports = cold_starts.measure(repeats=repeats, say=say)
    say("[lambda] building the layer for the Lambda runtime")
    layer = cold_starts.layer_size()
    sizing = lambda_sizing.measure(size, regions, say=say)
    return LambdaFigures(boto3_ms, floor_ms, tuple(imports), layer, sizing)


def lines(figures: LambdaFigures) -> list[str]:
    return [
        "Cold starts: each handler's import in a fresh interpreter, as Lambda starts it (median; ratio to boto3)",
        *cold_starts.table(figures.boto3_ms, figures.floor_ms, figures.imports),
        "",
        *cold_starts.layer_lines(figures.layer),
        "",
        *lambda_sizing.table(figures.sizing),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.lambda_benchmark", description=__doc__)
    parser.add_argument("--size", type=int, default=lambda_sizing.DEFAULT_SIZE, help="fleet size (default 10000)")
    parser.add_argument("--repeats", type=int, default=cold_starts.DEFAULT_REPEATS, help="import rounds (default 7)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    args = parser.parse_args(argv)
    if args.size < 1 or args.repeats < 1:
        parser.error("--size and --repeats must be at least 1")
    figures = measure(size=args.size, repeats=args.repeats)
    print(json.dumps(figures.as_dict(), indent=2) if args.format == "json" else "\n".join(lines(figures)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
