"""Coverage of the builtin methodology: every AWS region, processor family, storage class and Lambda architecture."""

import boto3
import pytest

from carbonmeter.emissions import estimate, load_coefficients
from carbonmeter.emissions.coefficients import UNKNOWN_REGION
from carbonmeter.emissions.hosts import FamilyName
from carbonmeter.models import GLOBAL_REGION, Service, UsageRecord
from tests.support.estimates import HOUR, PUE, REL, kwh, usage

# Partitions whose regions are public. The isolated ones (aws-iso*) publish no location, so they take the
# documented `unknown` fallback, flagged.
PUBLIC_PARTITIONS = ("aws", "aws-cn", "aws-us-gov", "aws-eusc")


@pytest.fixture(scope="module")
def c():
    return load_coefficients()


def public_regions() -> list[str]:
    session = boto3.Session()
    return sorted({r for p in PUBLIC_PARTITIONS for r in session.get_available_regions("ec2", partition_name=p)})


def test_botocore_knows_the_regions_this_test_is_about():
    regions = public_regions()
    assert {"us-east-1", "ap-southeast-7", "mx-central-1", "cn-north-1", "us-gov-west-1"} <= set(regions)


@pytest.mark.parametrize("region", public_regions())
def test_every_public_region_has_its_own_grid_factor_with_a_band(c, region):
    factor, own = c.grid_factor(region)
    low, high = c.grid_factor_bounds(region)

    assert own, f"{region} has no row in grid-emission-factors.csv"
    assert 0 < low < factor < high


def test_every_grid_row_names_its_source_and_year():
    import csv
    from importlib import resources

    text = resources.files("carbonmeter.emissions").joinpath("data", "grid-emission-factors.csv").read_text()
    for row in csv.DictReader(text.splitlines()):
        assert row["source"].strip(), row["region"]
        assert 2019 <= int(row["year"]) <= 2026, row["region"]
        # The fallback and the global services' world average are bounded by the whole table instead.
        assert row["band_pct"].strip() or row["region"] in (UNKNOWN_REGION, GLOBAL_REGION)


def test_a_region_without_a_factor_is_bounded_by_the_whole_table(c):
    record = estimate(usage(Service.EC2, "m5.large", cpu_utilization_pct=50, region="us-isob-east-1"))

    factors = [f for region, f in c.grid_tco2e_per_kwh.items() if region != UNKNOWN_REGION]
    assert record.flags == ("region_grid_factor_fallback",)
    assert c.grid_factor_bounds("us-isob-east-1") == (min(factors), max(factors))


def test_every_family_table_row_resolves_to_coefficients(c):
    # A row must name microarchitectures with coefficients, with a substitute, or Apple silicon (documented gap).
    for family in c.processor_families.values():
        for name in family.microarchitectures:
            known = name in c.processors or c.substitutes.get(name) in c.processors
            assert known or family.manufacturer == "Apple", (family.family, name)


def test_substitutes_and_manufacturer_defaults_have_coefficients_of_the_same_vendor(c):
    vendor = {"Cascade Lake": "Intel", "AMD EPYC 2nd Gen": "AMD", "AWS Graviton2": "AWS"}
    for substitute in c.substitutes.values():
        assert substitute in c.processors
    for manufacturer, default in c.constants.manufacturer_default_microarchitecture.items():
        assert vendor[default] == manufacturer


@pytest.mark.parametrize(
    ("instance_type", "flag"),
    [
        ("m7i.large", "microarchitecture_mapped:Sapphire Rapids->Cascade Lake"),
        ("c7i-flex.large", "microarchitecture_mapped:Sapphire Rapids->Cascade Lake"),
        ("m8i.large", "microarchitecture_mapped:Granite Rapids->Cascade Lake"),
        ("m7a.large", "microarchitecture_mapped:AMD EPYC 4th Gen->AMD EPYC 2nd Gen"),
        ("c8a.large", "microarchitecture_mapped:AMD EPYC 5th Gen->AMD EPYC 2nd Gen"),
        ("c7g.large", "microarchitecture_mapped:AWS Graviton3->AWS Graviton2"),
        ("r8g.large", "microarchitecture_mapped:AWS Graviton4->AWS Graviton2"),
        ("c6a.large", "microarchitecture_mapped:AMD EPYC 3rd Gen->AMD EPYC 2nd Gen"),
    ],
)
def test_newer_families_use_the_nearest_generation_of_their_vendor(instance_type, flag):
    record = estimate(usage(Service.EC2, instance_type, vcpus=2, memory_gib=8, cpu_utilization_pct=50))
    assert flag in record.flags
    assert "microarchitecture_unknown" not in record.flags
    assert record.compute_kwh > 0
    assert record.embodied_kgco2e > 0


def test_graviton3_uses_graviton2_watts_exactly():
    # Graviton2: 0.47 / 1.69 W per vCPU (CCF) -> 1.08 W at 50 %
    record = estimate(usage(Service.EC2, "c7g.large", vcpus=2, memory_gib=4, cpu_utilization_pct=50))
    assert record.compute_kwh == pytest.approx(kwh(1.08, 2), rel=REL)


def test_a_family_missing_from_the_table_falls_back_to_its_manufacturer():
    record = estimate(
        usage(Service.EC2, "zz9i.large", vcpus=2, memory_gib=8, cpu_utilization_pct=50, cpu_manufacturer="Intel")
    )
    assert "microarchitecture_from_manufacturer:Intel->Cascade Lake" in record.flags
    assert record.compute_kwh == pytest.approx(kwh(0.64 + 0.5 * 3.33, 2), rel=REL)


def test_apple_silicon_stays_on_the_aws_averages():
    record = estimate(
        usage(Service.EC2, "mac2.metal", vcpus=8, memory_gib=16, cpu_utilization_pct=50, cpu_manufacturer="Apple")
    )
    assert "microarchitecture_unknown" in record.flags
    assert record.compute_kwh == pytest.approx(kwh(2.12, 8), rel=REL)


def test_a_gpu_newer_than_the_data_is_scaled_from_its_tdp(c):
    # NVIDIA L4, 72 W TDP, scaled by the mean idle/TDP and full/TDP ratios of the GPUs with both figures
    idle, full = c.gpu_watts_per_tdp()
    record = estimate(
        usage(Service.EC2, "g6.xlarge", vcpus=4, memory_gib=16, gpus=1, gpu_model="NVIDIA L4", cpu_utilization_pct=0)
    )
    cpu = kwh(0.47, 4)  # EPYC 3rd Gen -> 2nd Gen, idle
    gpu = kwh(72 * idle + 0.5 * 72 * (full - idle), 1)
    assert record.compute_kwh == pytest.approx(cpu + gpu, rel=REL)
    assert "gpu_coefficients_from_tdp:NVIDIA L4" in record.flags


def test_a_fractional_gpu_counts_its_share():
    whole = estimate(usage(Service.EC2, "g6.xlarge", vcpus=4, memory_gib=16, gpus=1, gpu_model="NVIDIA L4"))
    eighth = estimate(usage(Service.EC2, "g6.xlarge", vcpus=4, memory_gib=16, gpus=0.125, gpu_model="NVIDIA L4"))
    cpu_only = estimate(usage(Service.EC2, "g6.xlarge", vcpus=4, memory_gib=16, gpus=0))
    assert eighth.compute_kwh - cpu_only.compute_kwh == pytest.approx(
        (whole.compute_kwh - cpu_only.compute_kwh) / 8, rel=REL
    )


def test_every_documented_family_missing_from_the_data_gets_a_sibling_of_its_vendor_or_the_median(c):
    # Every family AWS documents (processor-families.csv) but the data lacks: one embodied rule, flagged, and the
    # sibling (when there is one) has the same class letters and CPU vendor.
    missing = sorted(set(c.processor_families) - set(c.family_hosts))
    assert {"m7i", "m7a", "c7g", "r8g", "g6", "m8a"} <= set(missing)
    for family in missing:
        record = estimate(usage(Service.EC2, f"{family}.large", vcpus=2, memory_gib=8, cpu_utilization_pct=50))
        (rule,) = [flag for flag in record.flags if flag.startswith("embodied_from")]
        if rule != "embodied_from_median":
            sibling = rule.removeprefix(f"embodied_from_sibling:{family}->")
            assert c.family_manufacturers[sibling] == c.processor_families[family].manufacturer, family
            assert FamilyName.parse(sibling).letters == FamilyName.parse(family).letters, family
        assert record.embodied_kgco2e_range.low < record.embodied_kgco2e < record.embodied_kgco2e_range.high


def test_a_burstable_type_newer_than_the_data_says_its_baseline_is_unknown():
    record = estimate(usage(Service.EC2, "t8i.micro", vcpus=2, memory_gib=1, burstable=True))
    assert "burstable_baseline_unknown" in record.flags


@pytest.mark.parametrize(
    ("volume_type", "wh"), [("gp2", 1.2), ("gp3", 1.2), ("io1", 1.2), ("io2", 1.2), ("st1", 0.65), ("sc1", 0.65)]
)
def test_ebs_volume_types_are_all_known(volume_type, wh):
    record = estimate(usage(Service.EBS, volume_type, storage_gb=1000))
    assert record.flags == ()
    assert record.storage_kwh == pytest.approx(wh * 2 / 1000 * PUE, rel=REL)


@pytest.mark.parametrize(
    "storage_type",
    [
        "StandardStorage",
        "StandardIAStorage",
        "OneZoneIAStorage",
        "GlacierInstantRetrievalStorage",
        "GlacierStorage",
        "DeepArchiveStorage",
        "IntelligentTieringFAStorage",
        "IntelligentTieringIAStorage",
        "IntelligentTieringAAStorage",
        "IntelligentTieringAIAStorage",
        "IntelligentTieringDAAStorage",
        "ReducedRedundancyStorage",
    ],
)
def test_s3_storage_classes_and_intelligent_tiering_tiers_are_all_known(storage_type):
    record = estimate(usage(Service.S3, storage_type, storage_gb=1000))
    assert record.flags == ()
    assert record.storage_kwh > 0


@pytest.mark.parametrize("architecture", ["x86_64", "arm64"])
def test_lambda_on_both_architectures_gets_energy_and_bounds(architecture):
    record = estimate(
        UsageRecord(
            connection_id="c",
            account_id="123456789012",
            hour=HOUR,
            region="eu-west-1",
            service=Service.LAMBDA,
            resource_id="fn",
            resource_type=f"{architecture}-1024MB",
            architecture=architecture,
            memory_mb=1024,
            duration_ms=600_000,
        )
    )
    assert record.compute_kwh > 0
    assert record.energy_kwh_range is not None
    assert record.energy_kwh_range.low < record.energy_kwh < record.energy_kwh_range.high
