"""A seeded fleet of usage records of every service, for checks that the builtin estimate's figures do not move.

Each field of a service's details takes a value from a small pool (names the coefficients know and names they do
not, absent values, zeros and sizes), so the fleet goes through the estimate's fallbacks as well as its main
paths; the same seed gives the same records.
"""

from __future__ import annotations

import random
import types
import typing
from datetime import UTC, datetime
from typing import Any, Literal

from carbonmeter.emissions.coefficients import load_coefficients
from carbonmeter.models import GLOBAL_REGION, Service, UsageRecord
from carbonmeter.services import DETAILS_TYPES, SLICES

HOUR = datetime(2026, 11, 23, 10, tzinfo=UTC)
REGIONS = ("us-east-1", "eu-west-1", "ap-south-1", "eu-north-1", "nowhere-1")
# Pools of the string fields, by name: values the data knows, and some it does not.
STRING_POOLS: dict[str, tuple[str | None, ...]] = {
    "architecture": (None, "x86_64", "arm64"),
    "cpu_manufacturer": (None, "Intel", "AMD", "AWS", "Acme"),
    "gpu_model": (None, "NVIDIA T4", "NVIDIA A10G", "NVIDIA L4", "Acme G1"),
    "engine": (None, "mysql", "postgres", "aurora-mysql", "aurora-postgresql", "redis", "valkey", "memcached"),
    "state": (None, "in-use", "available"),
    "protocol": ("REST", "HTTP", "WEBSOCKET"),
    "billing_mode": (None, "PROVISIONED", "PAY_PER_REQUEST"),
    "price_class": (None, "PriceClass_All", "PriceClass_100"),
    "kubernetes_version": (None, "1.31"),
    "status": (None, "ACTIVE"),
    "cluster": ("cluster-1",),
}
_FIXED_TYPES: dict[Service, tuple[str, ...]] = {
    Service.REDSHIFT: ("ra3.xlplus", "ra3.4xlarge", "dc2.large", "serverless", "zz9.large"),
    Service.LAMBDA: ("function",),
}


def usage_fleet(per_service: int = 40, seed: int = 15) -> list[UsageRecord]:
    """``per_service`` usage records of every service, drawn with ``seed``."""
    rng = random.Random(seed)
    return [_record(rng, service, n) for service in SLICES for n in range(per_service)]


def _record(rng: random.Random, service: Service, n: int) -> UsageRecord:
    details: dict[str, Any] = {"service": service}
    for name, field in DETAILS_TYPES[service].model_fields.items():
        if name != "service":
            details[name] = _value(rng, name, field.annotation)
    return UsageRecord(
        connection_id="acme",
        account_id="111122223333",
        hour=HOUR,
        region=GLOBAL_REGION if SLICES[service].is_global else rng.choice(REGIONS),
        service=service,
        resource_id=f"{service.value}-{n}",
        resource_type=rng.choice(_resource_types(service)),
        hours=rng.choice((1.0, 1.0, 0.5, 0.25)),
        network_out_bytes=rng.choice((0.0, rng.uniform(0, 5e10))),
        details=details,
    )


def _resource_types(service: Service) -> tuple[str, ...]:
    if service in _FIXED_TYPES:
        return _FIXED_TYPES[service]
    names = sorted(load_coefficients().instance_types)[::40]
    prefix = {Service.RDS: "db.", Service.ELASTICACHE: "cache."}.get(service, "")
    storage = sorted(name for kind, name in load_coefficients().storage_classes if kind == service.value)
    if service in (Service.EC2, Service.RDS, Service.ELASTICACHE):
        return (*(prefix + name for name in names), prefix + "zz9.large", prefix + "serverless")
    return (*storage, "standard", "unknown-class")


def _value(rng: random.Random, name: str, annotation: Any) -> Any:
    options = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else ()
    if typing.get_origin(annotation) is typing.Union:
        options = typing.get_args(annotation)
    if options:
        present = [option for option in options if option is not type(None)]
        return None if rng.random() < 0.2 else _value(rng, name, present[0])
    if typing.get_origin(annotation) is Literal:
        return rng.choice(typing.get_args(annotation))
    if name == "storage_type":
        return rng.choice((None, "gp2", "gp3", "io2", "st1", "sc1", "standard", "STANDARD_IA", "GLACIER", "odd"))
    if name in STRING_POOLS:
        return rng.choice([value for value in STRING_POOLS[name] if value is not None] or [""])
    if annotation is bool:
        return rng.random() < 0.3
    if annotation is int:
        return rng.choice((0, 1, 2, 3, 128, 1769))
    if annotation is float:
        return rng.choice((0.0, rng.uniform(0, 100), rng.uniform(0, 5000)))
    if typing.get_origin(annotation) is tuple:
        return rng.choice(((), ("eu-west-1",), ("eu-west-1", "us-west-2")))
    raise TypeError(f"no values for {name}: {annotation}")
