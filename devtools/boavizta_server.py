"""Runs a real Boavizta API server on 127.0.0.1, from its own venv (``make install`` builds it).

Used by the provider tests and by ``make comparison``. The server runs offline: it reads only the data files
shipped in its package.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

# This file is <repo>/devtools/boavizta_server.py; the venv is the repo's.
REPO = Path(__file__).resolve().parents[1]
BOAVIZTA_VENV = REPO / ".build" / "boavizta-venv"
STARTUP_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 10.0


class BoaviztaServerError(RuntimeError):
    """The Boavizta server is not installed or did not start."""


@contextmanager
def running_boavizta(venv: Path = BOAVIZTA_VENV, startup_timeout: float = STARTUP_TIMEOUT_SECONDS) -> Iterator[str]:
    """Start ``uvicorn boaviztapi.main:app`` on a free local port, yield its base URL, stop it on exit."""
    uvicorn = venv / "bin" / "uvicorn"
    if not uvicorn.exists():
        raise BoaviztaServerError(
            f"the Boavizta API server is not installed ({uvicorn} is missing): run `make install`, "
            "which builds its separate venv from requirements-boavizta.txt"
        )
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    # Its own working directory and no BOAVIZTA_* variables: Boavizta reads both (.env) for its settings.
    env = {name: value for name, value in os.environ.items() if not name.startswith("BOAVIZTA_")}
    with tempfile.TemporaryDirectory(prefix="boavizta-") as workdir:
        log_path = Path(workdir) / "server.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [str(uvicorn), "boaviztapi.main:app", "--host", "127.0.0.1", "--port", str(port)],
                cwd=workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                _wait_until_up(process, url, startup_timeout, log_path)
                yield url
            finally:
                process.terminate()
                try:
                    process.wait(timeout=STOP_TIMEOUT_SECONDS)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _free_port() -> int:
    # Bind to port 0 and read back what the kernel picked: a port nobody else is listening on right now.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_up(process: subprocess.Popen[bytes], url: str, timeout: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BoaviztaServerError(f"the Boavizta server exited with {process.returncode}:\n{_tail(log_path)}")
        try:
            if requests.get(f"{url}/v1/utils/version", timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise BoaviztaServerError(f"the Boavizta server did not answer within {timeout:.0f} s:\n{_tail(log_path)}")


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
