"""Recommendations: each rule, the savings' bounds and the ranking, on usage records built here (no AWS)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from carbonmeter.emissions import load_coefficients
from carbonmeter.insights import recommendations as rec
from carbonmeter.models import HOUR, Range, Rollup, Service, UsageRecord
from tests.support.records import HOUR as FIRST_HOUR
from tests.support.records import ec2_usage

C = load_coefficients()
RULES = rec.load_rules()
HOURS = 48


def instance_hours(cpu: list[float] | float, hours: int = HOURS, **overrides: object) -> list[UsageRecord]:
    """``hours`` consecutive hours of one instance (an m5.large unless overridden), at ``cpu`` % each hour."""
    values = cpu if isinstance(cpu, list) else [cpu] * hours
    return [
        ec2_usage(hour=FIRST_HOUR + i * HOUR, cpu_utilization_pct=value, network_out_bytes=50e6, **overrides)
        for i, value in enumerate(values)
    ]


def volume_hours(state: str | None, hours: int = HOURS, volume_type: str = "gp3") -> list[UsageRecord]:
    return [
        UsageRecord(
            connection_id="acme",
            account_id="111122223333",
            hour=FIRST_HOUR + i * HOUR,
            region="us-east-1",
            service=Service.EBS,
            resource_id="vol-1",
            resource_type=volume_type,
            details={"service": "ebs", "storage_gb": 500.0, "storage_type": volume_type, "state": state},
        )
        for i in range(hours)
    ]


def bucket_hour(storage_class: str = "StandardStorage", gb: float = 2000.0) -> UsageRecord:
    return UsageRecord(
        connection_id="acme",
        account_id="111122223333",
        hour=FIRST_HOUR,
        region="eu-west-1",
        service=Service.S3,
        resource_id="logs",
        resource_type=storage_class,
        details={"service": "s3", "storage_gb": gb, "storage_type": storage_class},
    )


def rollups(hours: int = HOURS, region: str = "us-east-1", energy_kwh: float = 1.0) -> list[Rollup]:
    factor = C.grid_factor(region)[0] * 1000
    return [
        Rollup(
            connection_id="acme",
            hour=FIRST_HOUR + i * HOUR,
            region=region,
            service=Service.EC2,
            resources=1,
            energy_kwh=energy_kwh,
            operational_kgco2e=energy_kwh * factor,
            embodied_kgco2e=0.0,
            methodology_version="test",
            energy_kwh_range=Range(low=energy_kwh * 0.5, high=energy_kwh * 1.5),
            operational_kgco2e_range=Range(low=energy_kwh * 0.5 * factor * 0.85, high=energy_kwh * 1.5 * factor * 1.15),
        )
        for i in range(hours)
    ]


WINDOW = rec.Window(HOURS, RULES.hours_per_month)


def rules_named(found: list[rec.Recommendation]) -> list[str]:
    return [r.rule for r in found]


def test_an_idle_instance_saves_its_whole_estimate_scaled_to_a_month():
    # Given an m5.large that never went above 2 % CPU and sent little over 48 hours
    records = [r.model_copy(update={"network_out_bytes": 0.0}) for r in instance_hours(2.0)]
    # When the rules read it
    found = rec.instance_recommendations(records, C, RULES, WINDOW)
    # Then stopping it is the one change, worth its whole estimate at 730 h a month
    assert rules_named(found) == [rec.IDLE_INSTANCE]
    whole = rec.total_co2e(records, C)
    assert found[0].saving_kgco2e_per_month == pytest.approx(whole.central * 730 / HOURS)
    assert found[0].saving_kgco2e_per_month_range.low == pytest.approx(whole.low * 730 / HOURS)
    assert found[0].saving_kgco2e_per_month_range.high == pytest.approx(whole.high * 730 / HOURS)


def test_an_instance_sending_data_is_not_idle_however_low_its_cpu():
    records = [r.model_copy(update={"network_out_bytes": 100e6}) for r in instance_hours(2.0)]
    found = rec.instance_recommendations(records, C, RULES, WINDOW)
    assert rec.IDLE_INSTANCE not in rules_named(found)
    assert rec.SMALLER_INSTANCE not in rules_named(found)  # m5.large has no smaller m5 size


def test_an_oversized_instance_gets_the_smallest_size_that_keeps_its_peak_under_the_target():
    # Given an m5.4xlarge (16 vCPUs) whose busiest hour averaged 15 %
    records = instance_hours([15.0] + [8.0] * (HOURS - 1), resource_type="m5.4xlarge", vcpus=16, memory_gib=64)
    # When the rules read it
    found = {r.rule: r for r in rec.instance_recommendations(records, C, RULES, WINDOW)}
    # Then it is resized to m5.xlarge (4 vCPUs: peak 60 %), not m5.large (2 vCPUs: peak 120 %)
    smaller = found[rec.SMALLER_INSTANCE]
    assert smaller.change.endswith("to m5.xlarge")
    assert any("peak 60 %" in line for line in smaller.assumptions)
    assert smaller.saving_kgco2e_per_month > 0
    low, high = smaller.saving_kgco2e_per_month_range.low, smaller.saving_kgco2e_per_month_range.high
    assert low <= smaller.saving_kgco2e_per_month <= high


def test_a_busy_instance_gets_no_smaller_size():
    records = instance_hours([60.0] + [20.0] * (HOURS - 1), resource_type="m5.4xlarge", vcpus=16, memory_gib=64)
    assert rec.SMALLER_INSTANCE not in rules_named(rec.instance_recommendations(records, C, RULES, WINDOW))


def test_an_x86_instance_gets_its_graviton_type_of_the_same_size_re_estimated_by_the_methodology():
    # Given an r5.2xlarge at 50 %
    records = instance_hours(50.0, resource_type="r5.2xlarge", vcpus=8, memory_gib=64, architecture="x86_64")
    # When the rules read it
    found = {r.rule: r for r in rec.instance_recommendations(records, C, RULES, WINDOW)}
    # Then r6g.2xlarge is proposed, and the saving is the difference of the two estimates
    graviton = found[rec.GRAVITON_INSTANCE]
    assert "r6g.2xlarge" in graviton.change
    after = [
        r.model_copy(
            update={
                "resource_type": "r6g.2xlarge",
                "details": r.details.model_copy(update={"cpu_manufacturer": "AWS", "architecture": "arm64"}),
            }
        )
        for r in records
    ]
    expected = rec.total_co2e(records, C).central - rec.total_co2e(after, C).central
    assert graviton.saving_kgco2e_per_month == pytest.approx(expected * 730 / HOURS)
    assert graviton.saving_kgco2e_per_month > 0


def test_graviton_equivalents_only_where_the_data_has_both_types_of_the_same_size():
    assert rec.graviton_equivalent(C, "m5.large").name == "m6g.large"
    assert rec.graviton_equivalent(C, "t3.medium").name == "t4g.medium"
    assert rec.graviton_equivalent(C, "m5.24xlarge") is None  # m6g stops at 16xlarge
    assert rec.graviton_equivalent(C, "m7i.large") is None  # not in the methodology's data
    assert rec.graviton_equivalent(C, "c6g.xlarge") is None  # already Graviton


def test_every_graviton_equivalent_is_an_x86_family_of_the_data_mapped_to_a_graviton_family_of_the_data():
    families = {t.family: t for t in C.instance_types.values()}
    for x86, graviton in rec.graviton_families().items():
        assert x86 in families
        assert graviton in families
        assert "Graviton" not in " ".join(families[x86].microarchitectures)
        assert "Graviton" in " ".join(families[graviton].microarchitectures)


def test_an_instance_with_too_few_measured_hours_gets_nothing():
    records = instance_hours(2.0, hours=RULES.min_measured_hours - 1)
    assert rec.instance_recommendations(records, C, RULES, WINDOW) == []


def test_a_volume_unattached_in_every_hour_is_to_delete_with_the_snapshot_alternative_named():
    found = rec.volume_recommendations(volume_hours("available"), C, RULES, WINDOW)
    assert rules_named(found) == [rec.UNATTACHED_VOLUME]
    whole = rec.total_co2e(volume_hours("available"), C)
    assert found[0].saving_kgco2e_per_month == pytest.approx(whole.central * 730 / HOURS)
    assert any("snapshot" in line for line in found[0].assumptions)


@pytest.mark.parametrize("states", [["in-use"] * HOURS, ["available"] * (HOURS - 1) + ["in-use"], [None] * HOURS])
def test_a_volume_attached_in_any_hour_or_of_unknown_state_is_left_alone(states):
    records = [r.model_copy(update={"details": r.details.model_copy(update={"state": s})}) for r, s in
               zip(volume_hours("available"), states, strict=True)]  # fmt: skip
    assert rec.volume_recommendations(records, C, RULES, WINDOW) == []


def test_standard_s3_data_goes_to_the_colder_class_that_saves_by_the_methodology_and_says_which_save_nothing():
    found = rec.storage_class_recommendations([bucket_hour()], C, RULES)
    assert rules_named(found) == [rec.COLDER_STORAGE]
    assert "One Zone-IA" in found[0].change
    # Replication 3 -> 2: a third of the storage estimate, for a month
    whole = rec.total_co2e([bucket_hour()], C)
    assert found[0].saving_kgco2e_per_month == pytest.approx(whole.central / 3 * 730)
    assert any("Glacier Deep Archive" in line and "no saving" in line for line in found[0].assumptions)


def test_s3_data_already_in_a_colder_class_gets_nothing():
    assert rec.storage_class_recommendations([bucket_hour("GlacierStorage")], C, RULES) == []


def test_a_region_move_is_information_to_the_cleanest_grid_of_its_geography():
    assert rec.cleanest_region(C, "eu-west-1") == "eu-north-1"
    assert rec.cleanest_region(C, "us-east-1") in {"us-west-1", "us-west-2"}
    assert rec.cleanest_region(C, "eu-north-1") is None  # already the cleanest
    assert rec.cleanest_region(C, "eu-west-2") is None  # the United Kingdom: a geography of one region
    found = rec.region_moves(rollups(region="eu-west-1"), C, WINDOW)
    assert [(r.region, r.resource_type, r.informational) for r in found] == [("eu-west-1", "eu-north-1", True)]
    factor_from, factor_to = C.grid_factor("eu-west-1")[0], C.grid_factor("eu-north-1")[0]
    assert found[0].saving_kgco2e_per_month == pytest.approx(HOURS * (factor_from - factor_to) * 1000 * 730 / HOURS)


def test_every_region_of_the_geographies_has_a_grid_factor_of_its_own():
    assert set(rec.geographies()) <= set(C.grid_tco2e_per_kwh)


def test_the_saving_of_two_estimates_is_bounded_by_both_at_their_low_and_both_at_their_high():
    band = rec.saving(rec.Band(8.0, 10.0, 14.0), rec.Band(3.0, 4.0, 5.0), 2.0)
    assert (band.low, band.central, band.high) == (10.0, 12.0, 18.0)
    # A difference that narrows at the high end still encloses the central figure
    crossed = rec.saving(rec.Band(8.0, 10.0, 11.0), rec.Band(1.0, 4.0, 9.0), 1.0)
    assert crossed.low <= crossed.central <= crossed.high


def test_changes_are_ranked_by_saving_and_region_moves_kept_apart():
    # Given an idle m5.4xlarge, an oversized-but-busy r5.2xlarge, an unattached volume and a region's roll-ups
    idle = [r.model_copy(update={"network_out_bytes": 0.0}) for r in
            instance_hours(1.0, resource_type="m5.4xlarge", vcpus=16, memory_gib=64, resource_id="i-idle")]  # fmt: skip
    busy = instance_hours(50.0, resource_type="r5.2xlarge", vcpus=8, memory_gib=64, resource_id="i-busy")
    usage = [*idle, *busy, *volume_hours("available")]
    # When every rule runs
    found = rec.recommend(usage, rollups(), C, RULES)
    # Then the changes come largest first, and the move is information only
    savings = [r.saving_kgco2e_per_month for r in found.changes]
    assert savings == sorted(savings, reverse=True)
    assert found.changes[0].rule == rec.IDLE_INSTANCE
    assert {r.rule for r in found.changes} == {rec.IDLE_INSTANCE, rec.GRAVITON_INSTANCE, rec.UNATTACHED_VOLUME}
    assert [r.rule for r in found.information] == [rec.CLEANER_REGION]
    assert found.window.hours == HOURS


def test_the_read_plan_reads_ec2_and_ebs_each_region_hour_and_s3_only_in_its_latest_hour():
    stored = [*rollups(hours=3), *rollups(hours=2, region="eu-west-1")]
    s3 = [r.model_copy(update={"service": Service.S3, "region": "eu-west-1"}) for r in rollups(hours=3)]
    plan = rec.read_plan([*stored, *s3])
    hourly = [(p.hour, p.region) for p in plan if p.services == rec.HOURLY_SERVICES]
    assert len(hourly) == 5
    assert [(p.hour, p.region) for p in plan if p.services == rec.LATEST_SERVICES] == [
        (FIRST_HOUR + timedelta(hours=2), "eu-west-1")
    ]


def test_the_text_names_the_hours_read_of_those_wanted_and_keeps_moves_apart():
    usage = [*volume_hours("available")]
    found = rec.recommend(usage, rollups(), C, RULES)
    document = rec.Recommendations(
        connection_id="acme",
        start=FIRST_HOUR + HOURS * HOUR - timedelta(days=14),
        end=FIRST_HOUR + HOURS * HOUR,
        hours_wanted=336,
        hours_read=found.window.hours,
        hours_per_month=730,
        recommendations=found.changes,
        information=found.information,
    )
    shown = rec.text(document)
    assert "at the rate of 48 h of the 336 h (14 days)" in shown
    assert "delete vol-1" in shown
    assert "For information, not recommended" in shown
    assert rec.document(document)["recommendations"][0]["saving_usd_per_month"] is None
