"""Usage records for the builtin methodology's unit tests, the constants their expected values are written from
(CCF AWS_CLOUD_CONSTANTS and the bundled tables), and an emission record with bounds for the report tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from carbonmeter.models import EmissionRecord, Range, Service, UsageRecord

HOUR = datetime(2024, 3, 1, 12, tzinfo=UTC)
PUE = 1.135
MEMORY_KWH = 0.000392
US_EAST_1_KG = 0.379069  # 0.000379069 t/kWh x 1000
REL = 1e-9


def usage(service, resource_type, **fields):
    values = {
        "connection_id": "acme",
        "account_id": "123456789012",
        "hour": HOUR,
        "region": "us-east-1",
        "service": service,
        "resource_id": fields.pop("resource_id", f"{service}-1"),
        "resource_type": resource_type,
    }
    values.update(fields)
    return UsageRecord(**values)


def kwh(watts_per_unit, units, hours=1.0, copies=1.0):
    return watts_per_unit * units * hours / 1000 * PUE * copies


def emission_record(
    resource_id: str = "i-1", hour_offset: int = 0, bounded: bool = True, scale: float = 1.0
) -> EmissionRecord:
    """One hour of a resource: 1 kWh [0.5, 2], 0.4 kg [0.2, 0.9] operational, 0.1 kg [0.05, 0.2] embodied."""
    return EmissionRecord(
        connection_id="acme",
        account_id="123456789012",
        hour=HOUR + timedelta(hours=hour_offset),
        region="us-east-1",
        service=Service.EC2,
        resource_id=resource_id,
        resource_type="m5.large",
        hours=1.0,
        compute_kwh=0.75 * scale,
        memory_kwh=0.25 * scale,
        storage_kwh=0.0,
        network_kwh=0.0,
        operational_kgco2e=0.4 * scale,
        embodied_kgco2e=0.1 * scale,
        grid_kgco2e_per_kwh=0.4,
        methodology_version="test",
        energy_kwh_range=Range(low=0.5 * scale, high=2.0 * scale) if bounded else None,
        operational_kgco2e_range=Range(low=0.2 * scale, high=0.9 * scale) if bounded else None,
        embodied_kgco2e_range=Range(low=0.05 * scale, high=0.2 * scale) if bounded else None,
    )
