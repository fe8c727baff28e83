"""``make local``: a local CarbonMeter stays up, and the CLI keeps its data there between commands.

Each command runs as a user types it in another shell: a separate process whose environment holds only PATH,
an empty HOME (no AWS config or credentials) and the one setting the local CarbonMeter prints.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
CARBONMETER = ROOT / ".venv" / "bin" / "carbonmeter"
STARTUP_SECONDS = 300
SECOND_EXTERNAL_ID = "Zq3vN8rKx1TbW6yHc0LmPd4sEa7uJf2G"


@dataclass
class RunningLocal:
    process: subprocess.Popen[str]
    announcement: list[str]
    endpoint: str

    def shell_environment(self, home: Path) -> dict[str, str]:
        return {"PATH": os.environ["PATH"], "HOME": str(home), "CARBONMETER_ENDPOINT_URL": self.endpoint}


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "devtools.local", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={name: value for name, value in os.environ.items() if not name.startswith("CARBONMETER_")},
    )


def _read_announcement(process: subprocess.Popen[str]) -> list[str]:
    """stdout up to the line saying how to stop it (the local CarbonMeter is up then)."""
    stdout = process.stdout
    assert stdout is not None
    # A thread reads, so that a local CarbonMeter that never comes up fails the test at the deadline, not never.
    received: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [received.put(line) for line in stdout], daemon=True).start()
    lines: list[str] = []
    deadline = time.monotonic() + STARTUP_SECONDS
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = received.get(timeout=min(left, 5))
        except queue.Empty:
            if process.poll() is not None:
                break
            continue
        lines.append(line.rstrip("\n"))
        if line.startswith("Ctrl-C stops it"):
            return lines
    process.kill()
    _, err = process.communicate(timeout=30)
    pytest.fail(f"the local CarbonMeter did not come up: {lines}\n{err}")


@pytest.fixture(scope="module")
def running_local() -> Iterator[RunningLocal]:
    process = _start("--hours", "2", "--regions", "us-east-1", "--port", "0")
    try:
        announcement = _read_announcement(process)
        (export,) = [line for line in announcement if line.strip().startswith("export ")]
        endpoint = export.split("=", 1)[1]
        yield RunningLocal(process, announcement, endpoint)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)


def _carbonmeter(
    local: RunningLocal, home: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CARBONMETER), *args],
        cwd=ROOT,
        env={**local.shell_environment(home), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_it_prints_the_one_setting_to_export_and_commands_that_work_as_printed(running_local, tmp_path):
    # Then the announcement says what to export, and every command it suggests runs as printed
    assert re.fullmatch(r"  export CARBONMETER_ENDPOINT_URL=http://127\.0\.0\.1:\d+", running_local.announcement[-5])
    commands = [line.strip() for line in running_local.announcement if line.strip().startswith(".venv/bin/")]
    assert len(commands) == 3
    for command in commands:
        program, *args = command.split()
        assert program == ".venv/bin/carbonmeter"
        result = _carbonmeter(running_local, tmp_path, *args)
        assert result.returncode == 0, (command, result.stderr)
        assert result.stdout.strip(), command


def test_the_demo_account_is_collected_and_what_commands_store_stays(running_local, tmp_path):
    # Given the local CarbonMeter, in a shell with no AWS credentials or configuration at all
    listed = _carbonmeter(running_local, tmp_path, "connections", "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    (demo,) = json.loads(listed.stdout)
    # Then the demo connection is there with its hours collected
    assert demo["connection_id"] == "demo"
    assert demo["last_success_hour"] is not None
    report = _carbonmeter(
        running_local, tmp_path, "report", "--connection-id", "demo", "--last", "3", "--format", "json"
    )
    assert report.returncode == 0, report.stderr
    reported = json.loads(report.stdout)
    assert reported["totals"]["energy_kwh"] > 0
    assert {row["service"] for row in reported["services"]} >= {"ec2", "s3"}
    # When one command registers a connection (the check assumes the demo role on the local CarbonMeter)
    role = f"arn:aws:iam::{demo['account_id']}:role/CarbonMeterReadOnly"
    added = _carbonmeter(
        running_local, tmp_path,
        "connections", "add", "--connection-id", "second", "--role-arn", role, "--allow-shared-role",
        "--regions", "us-east-1",
        env={"CARBONMETER_EXTERNAL_ID": SECOND_EXTERNAL_ID},
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "checked: assumed the role with its ExternalId and read 1 region(s)" in added.stdout
    # Then the next command, another process, finds it, and can disable it
    again = _carbonmeter(running_local, tmp_path, "connections", "list", "--format", "json")
    assert [c["connection_id"] for c in json.loads(again.stdout)] == ["demo", "second"]
    assert _carbonmeter(running_local, tmp_path, "connections", "disable", "second").returncode == 0
    final = _carbonmeter(running_local, tmp_path, "connections", "list", "--format", "json")
    assert [c["enabled"] for c in json.loads(final.stdout)] == [True, False]


def test_a_port_in_use_is_said_on_one_line(running_local):
    # Given the local CarbonMeter's port, taken
    port = running_local.endpoint.rsplit(":", 1)[1]
    # When a second one is started on it
    second = _start("--port", port, "--hours", "1")
    _, err = second.communicate(timeout=120)
    # Then it says so and exits non-zero, without a traceback
    assert second.returncode == 1
    assert f"error: port {port} on 127.0.0.1 is in use" in err
    assert "Traceback" not in err


def test_ctrl_c_stops_it_cleanly(running_local):
    # Run last in this module: it stops the shared local CarbonMeter
    running_local.process.send_signal(signal.SIGINT)
    _, err = running_local.process.communicate(timeout=60)
    assert running_local.process.returncode == 0
    assert "stopped; what it held is gone" in err
    assert "Traceback" not in err
