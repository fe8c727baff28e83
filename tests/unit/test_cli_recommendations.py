"""``carbonmeter recommendations``: its refusals of bad input, each one line before any AWS call."""

from __future__ import annotations

import pytest

from carbonmeter import cli


def _exit_code(argv: list[str]) -> int:
    try:
        return cli.main(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--days", "0"], "error: argument --days: '0' is not a whole number (1 or more)"),
        (["--days", "32"], "error: --days is at most 31: every region-hour read is one query"),
        (["--limit", "many"], "error: argument --limit: 'many' is not a whole number (1 or more)"),
        (["--format", "table"], "error: argument --format: invalid choice: 'table'"),
        (["--end", "2026-11-23"], "error: argument --end: '2026-11-23' is a date; give an hour with its timezone"),
    ],
)
def test_bad_input_is_one_line_and_a_usage_exit(capsys, monkeypatch, extra, message):
    # No AWS: a refusal must come before any client is used
    monkeypatch.setattr(cli.recommendations, "connection_recommendations", pytest.fail)
    assert _exit_code(["recommendations", "--connection-id", "acme", *extra]) == cli.EXIT_USAGE
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(message)
