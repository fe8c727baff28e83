"""The functions' benchmark figures on a tiny fleet: present and coherent with each other, not timed."""

from __future__ import annotations

import json

import pytest

from devtools import lambda_benchmark
from devtools.cold_starts import HANDLERS, TARGET_MS


def test_lambda_figures_are_printed_for_every_handler_the_layer_and_the_sizing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a 12-resource fleet and one round of imports
    # When the functions' part of the benchmark runs
    assert lambda_benchmark.main(["--size", "12", "--repeats", "1", "--format", "json"]) == 0

    # Then every handler has an import time and its ratio to boto3, and the targeted ones their target
    document = json.loads(capsys.readouterr().out)
    imports = {t["name"]: t for t in document["imports"]}
    assert set(imports) == set(HANDLERS)
    assert document["floor_import_ms"] > 0  # the least a handler imports, timed beside them
    for name, figure in imports.items():
        assert figure["ratio"] == pytest.approx(figure["median_ms"] / document["boto3_import_ms"])
        assert figure["target_ms"] == TARGET_MS.get(name)
        assert figure["rss_mib"] > 0
    # the layer is built for the Lambda's Python and architecture, and its zip is smaller than its files
    layer = document["layer"]
    assert layer["target"] == "python3.14-aarch64"
    assert 0 < layer["zipped_bytes"] < layer["unzipped_bytes"]
    # and the sizing measured the hour it collected
    sizing = document["sizing"]
    assert sizing["size"] == 12
    assert sizing["usage_records"] > 12  # EC2 brings root volumes, S3 a record per storage class
    assert sizing["collector_peak_mib"] > 0
    assert sizing["calculator_peak_mib"] > 0
    assert sizing["throughput_ratio"] == pytest.approx(sizing["records_per_second"] / 50_000)
