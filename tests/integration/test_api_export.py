"""The export route through the real handler (moto): the CLI's export file, as an attachment, refused whole when
it would not fit in one answer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from carbonmeter import cli, tenancy
from carbonmeter.tenancy import ReadLimits
from tests.support.api import (
    GLOBEX,
    api_deployment,
    get,
    window,
)

NOW = datetime(2026, 11, 30, 10, 20, tzinfo=UTC)
PATH = "/api/v1/connections/acme-prod/export"


@pytest.fixture(scope="module")
def deployed():
    # One store for the module: every test here reads it, none writes.
    with api_deployment(NOW) as clients:
        yield clients


def _cli_export(capsys, export_format: str, granularity: str, by: str) -> str:
    capsys.readouterr()
    args = ["export", "--connection-id", "acme-prod", "--start", window()["start"], "--end", window()["end"],
            "--format", export_format, "--granularity", granularity, "--by", by]  # fmt: skip
    assert cli.main(args) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize(
    ("export_format", "granularity", "by"),
    [("csv", "day", "service"), ("csv", "hour", "resource"), ("json", "day", "region")],
)
def test_the_export_is_the_cli_exports_file(deployed, capsys, export_format, granularity, by):
    answer = get(PATH, {**window(), "format": export_format, "granularity": granularity, "group_by": by})
    assert answer.status == 200
    assert answer.body == _cli_export(capsys, export_format, granularity, by)
    assert answer.body.count("\n") > 2


def test_the_export_is_an_attachment_named_after_its_range(deployed):
    csv_answer = get(PATH, window())
    assert csv_answer.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert csv_answer.headers["Content-Disposition"] == (
        'attachment; filename="acme-prod_2026-11-01T000000Z_2026-11-03T000000Z_day_service.csv"'
    )
    json_answer = get(PATH, {**window(), "format": "json"})
    assert json_answer.headers["Content-Type"] == "application/x-ndjson"
    assert json_answer.headers["Content-Disposition"].endswith('.jsonl"')


def test_an_export_larger_than_one_answer_is_refused_whole_pointing_to_the_cli(deployed, monkeypatch):
    # Given a bound smaller than the file (the real one is 5 MB, under Lambda's 6 MB answer)
    whole = get(PATH, {**window(), "granularity": "hour"}).body
    monkeypatch.setattr(tenancy, "LIMITS", ReadLimits(answer_bytes=len(whole) - 1))
    answer = get(PATH, {**window(), "granularity": "hour"})
    assert answer.status == 413
    assert answer.json()["statusCode"] == 413
    assert "carbonmeter export" in answer.json()["message"]
    assert "period_start" not in answer.body
    # And a file within the bound is answered whole
    monkeypatch.setattr(tenancy, "LIMITS", ReadLimits(answer_bytes=len(whole) * 2))
    assert get(PATH, {**window(), "granularity": "hour"}).body == whole


def test_a_bad_format_answers_400_naming_it(deployed):
    answer = get(PATH, {**window(), "format": "xlsx"})
    assert answer.status == 400
    assert answer.json()["message"] == "format: Input should be 'csv' or 'json'"


def test_another_tenants_export_is_404(deployed):
    answer = get(PATH, window(), groups=[GLOBEX])
    assert answer.status == 404
    assert answer.json() == {"statusCode": 404, "message": "no connection named 'acme-prod'"}
