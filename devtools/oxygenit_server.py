"""A local stand-in for the OxygenIT API (ScaleDynamics) on 127.0.0.1, strict about what it is sent.

It accepts only requests of the shape OxygenIT's public documentation (API description, v1.1.x) gives:
``GET /providers``, and ``POST /providers/aws/operation`` / ``/providers/aws/embodied`` with exactly the documented
members and types, a JSON content type and the key in the configured header. Anything else is answered with
HTTP 400 and a ``reason``, and kept in ``rejected`` (with its ``kind``); every request is kept in ``received``
for tests to assert.

The answers' layout and figures are the stand-in's own (the documentation does not show OxygenIT's): by default
the layout CarbonMeter assumes (``energy`` in Wh, ``co2eq`` in g), or any other through ``render``.

    python -m devtools.oxygenit_server --port 8090 --key local-key
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import Flask, Response, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from werkzeug.serving import BaseWSGIServer, make_server

# The providers the documentation lists for v1.1.x (outscale since 1.1.1).
PROVIDERS = ("aws", "gcp", "azure", "scaleway", "outscale")
# Invented figures per instance type: idle and full-load watts, embodied grams CO2e per hour.
# (The types and regions of the documentation's example, the tests' and the workbench's demo account.)
INSTANCE_TYPES: dict[str, tuple[float, float, float]] = {
    "t2.medium": (8.0, 30.0, 3.0),
    "t3.medium": (7.0, 28.0, 3.0),
    "m5.large": (20.0, 80.0, 6.0),
    "m5.xlarge": (40.0, 160.0, 12.0),
    "m6g.large": (14.0, 55.0, 5.0),
    "m7i.large": (18.0, 75.0, 6.0),
    "c6g.xlarge": (22.0, 90.0, 8.0),
    "r5.large": (24.0, 90.0, 7.0),
    "r5.2xlarge": (70.0, 250.0, 20.0),
}
# Invented grid intensities, g CO2e per kWh.
REGION_GRAMS_PER_KWH = {
    "us-east-1": 400.0,
    "eu-west-1": 300.0,
    "eu-west-3": 60.0,
    "ap-northeast-3": 500.0,
    "ap-southeast-2": 600.0,
}
STORAGE_WH_PER_GB = 0.001
TRANSFER_WH_PER_GB = 1.0
_BYTES_PER_GB = 1e9

# What an answer looks like: energy in kWh and CO2e in kg in, the JSON document out.
Render = Callable[[float, float], dict[str, Any]]


def assumed_layout(energy_kwh: float, co2e_kg: float) -> dict[str, Any]:
    """The layout CarbonMeter's defaults read: ``energy`` in Wh, ``co2eq`` in g."""
    return {"energy": energy_kwh * 1000.0, "co2eq": co2e_kg * 1000.0}


# The documented request, strictly: no other member, sizes and transfers as whole bytes.
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


ShapeT = TypeVar("ShapeT", bound=_Strict)


class StorageShape(_Strict):
    size: int = Field(ge=0)
    type: str = Field(min_length=1)


class InstanceShape(_Strict):
    type: str = Field(min_length=1)
    region: str = Field(min_length=1)
    storage: StorageShape


class MetricsShape(_Strict):
    cpuLoad: float = Field(ge=0, le=1)
    dataTransfer: int = Field(ge=0)


class OperationShape(_Strict):
    instance: InstanceShape
    metrics: MetricsShape


class EmbodiedShape(_Strict):
    instance: InstanceShape


class _Rejected(Exception):
    """A refused request; ``kind`` is ``shape`` (not the documented request), ``key`` or ``catalogue`` (a type or
    region the stand-in does not know, as the real API would not)."""

    def __init__(self, status: int, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.kind = kind
        self.reason = reason


@dataclass
class OxygenItStandIn:
    """The stand-in's state. ``fail_next``: answer that many requests with HTTP 500 first; ``garble_next``: that
    many with a 200 that is not JSON; ``delay``: seconds before every answer; ``render``: the answers' layout."""

    key: str = "oxygenit-test-key"
    key_header: str = "x-api-key"
    delay: float = 0.0
    fail_next: int = 0
    garble_next: int = 0
    render: Render = assumed_layout
    received: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Flask:
        app = Flask("oxygenit-stand-in")
        app.add_url_rule("/providers", "providers", self._providers, methods=["GET"])
        app.add_url_rule("/providers/aws/operation", "operation", self._operation, methods=["POST"])
        app.add_url_rule("/providers/aws/embodied", "embodied", self._embodied, methods=["POST"])
        return app

    def bodies(self, path: str) -> list[Any]:
        """The bodies received on ``path``, in order."""
        return [entry["body"] for entry in self.received if entry["path"] == path]

    def _providers(self) -> Response:
        return self._handle(lambda: list(PROVIDERS))

    def _operation(self) -> Response:
        return self._handle(self._operation_answer)

    def _embodied(self) -> Response:
        return self._handle(self._embodied_answer)

    def _handle(self, answer: Callable[[], Any]) -> Response:
        body = request.get_json(silent=True) if request.method == "POST" else None
        entry = {"path": request.path, "key": request.headers.get(self.key_header), "body": body}
        with self.lock:
            self.received.append(entry)
            failing, garbling = self.fail_next > 0, self.fail_next <= 0 and self.garble_next > 0
            self.fail_next -= int(failing)
            self.garble_next -= int(garbling)
        time.sleep(self.delay)
        try:
            self._check_key()
            if failing:
                return Response("busy", status=500)
            document = answer()
        except _Rejected as exc:
            with self.lock:
                self.rejected.append({**entry, "kind": exc.kind, "reason": exc.reason})
            return _json({"reason": exc.reason}, exc.status)
        if garbling:
            return Response("<html>not json</html>", status=200, mimetype="text/html")
        return _json(document, 200)

    def _check_key(self) -> None:
        if request.headers.get(self.key_header) != self.key:
            raise _Rejected(401, "key", f"missing or wrong key in {self.key_header}")

    def _operation_answer(self) -> dict[str, Any]:
        asked = _parsed(OperationShape)
        idle, full, _ = _instance_figures(asked.instance)
        grams_per_kwh = _grid(asked.instance)
        watts = idle + (full - idle) * asked.metrics.cpuLoad
        storage_wh = asked.instance.storage.size / _BYTES_PER_GB * STORAGE_WH_PER_GB
        transfer_wh = asked.metrics.dataTransfer / _BYTES_PER_GB * TRANSFER_WH_PER_GB
        energy_kwh = (watts + storage_wh + transfer_wh) / 1000.0
        return self.render(energy_kwh, energy_kwh * grams_per_kwh / 1000.0)

    def _embodied_answer(self) -> dict[str, Any]:
        asked = _parsed(EmbodiedShape)
        _, _, embodied_grams = _instance_figures(asked.instance)
        _grid(asked.instance)
        return self.render(0.0, embodied_grams / 1000.0)


def _parsed(shape: type[ShapeT]) -> ShapeT:
    if not request.is_json:
        raise _Rejected(400, "shape", "the body must be sent as application/json")
    try:
        return shape.model_validate_json(request.get_data())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise _Rejected(400, "shape", f"{where}: {first['msg']}") from None


def _instance_figures(instance: InstanceShape) -> tuple[float, float, float]:
    if instance.type not in INSTANCE_TYPES:
        raise _Rejected(400, "catalogue", f"unknown instance type {instance.type}")
    return INSTANCE_TYPES[instance.type]


def _grid(instance: InstanceShape) -> float:
    if instance.region not in REGION_GRAMS_PER_KWH:
        raise _Rejected(400, "catalogue", f"unknown region {instance.region}")
    return REGION_GRAMS_PER_KWH[instance.region]


def _json(document: Any, status: int) -> Response:
    return Response(json.dumps(document), status=status, mimetype="application/json")


@contextmanager
def running_oxygenit(stand_in: OxygenItStandIn, port: int = 0) -> Iterator[str]:
    """Serve ``stand_in`` on 127.0.0.1 (a free port unless given), yield its base URL, stop it on exit."""
    server: BaseWSGIServer = make_server("127.0.0.1", port, stand_in.app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="a local stand-in for the OxygenIT API, on 127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--key", default=OxygenItStandIn.key, help="the API key it accepts")
    parser.add_argument("--key-header", default=OxygenItStandIn.key_header, help="the header that carries the key")
    args = parser.parse_args(argv)
    stand_in = OxygenItStandIn(key=args.key, key_header=args.key_header)
    with running_oxygenit(stand_in, args.port) as url:
        print(f"OxygenIT stand-in on {url} (key header {args.key_header}); Ctrl-C stops it", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
