"""UsageRecord -> EmissionRecord for every service path, and the hourly rollups.

Expected values are written out from the published constants (CCF AWS_CLOUD_CONSTANTS and the bundled tables)
so that a wrong coefficient, unit or replication factor in the code makes a test fail.
"""

import pytest

from carbonmeter.emissions import METHODOLOGY_VERSION, estimate, estimate_all, load_coefficients, rollup
from carbonmeter.models import Service
from tests.support.estimates import HOUR, MEMORY_KWH, PUE, REL, US_EAST_1_KG, kwh, usage

# --- EC2 ------------------------------------------------------------------------------------------------


def test_m5_large_one_hour_at_fifty_percent_in_us_east_1():
    # Source of the energy figures: CCF methodology (Compute and Memory) with its Skylake and m5 coefficients:
    # 0.00557285 kWh compute, 0.00280559 kWh memory. Embodied: Teads/Davy m5 host 1.6103792 t.
    record = estimate(usage(Service.EC2, "m5.large", vcpus=2, memory_gib=8, cpu_utilization_pct=50))

    assert record.compute_kwh == pytest.approx(0.00557285, rel=REL)
    assert record.memory_kwh == pytest.approx(0.00280559, rel=1e-6)
    assert record.storage_kwh == 0
    assert record.network_kwh == 0
    assert record.grid_kgco2e_per_kwh == pytest.approx(US_EAST_1_KG, rel=REL)
    assert record.operational_kgco2e == pytest.approx((0.00557285 + 0.0028055913666667) * US_EAST_1_KG, rel=1e-9)
    assert record.embodied_kgco2e == pytest.approx(1.6103792 * 1000 * 1 / 35040 * 2 / 96, rel=REL)
    assert record.methodology_version == METHODOLOGY_VERSION
    assert record.flags == ()


def test_embodied_is_kept_out_of_energy_and_operational_emissions():
    record = estimate(usage(Service.EC2, "m5.large", cpu_utilization_pct=50))

    assert record.embodied_kgco2e > 0
    assert record.energy_kwh == pytest.approx(record.compute_kwh + record.memory_kwh, rel=REL)
    assert record.operational_kgco2e == pytest.approx(record.energy_kwh * record.grid_kgco2e_per_kwh, rel=REL)


def test_missing_utilisation_uses_fifty_percent_and_says_so():
    measured = estimate(usage(Service.EC2, "m5.large", cpu_utilization_pct=50))
    defaulted = estimate(usage(Service.EC2, "m5.large", cpu_utilization_pct=None))

    assert defaulted.compute_kwh == pytest.approx(measured.compute_kwh, rel=REL)
    assert defaulted.flags == ("utilisation_default_50pct",)


def test_measured_utilisation_changes_compute_linearly():
    # Skylake at 10 %: 0.65 + 0.1 x 3.61 = 1.011 W per vCPU
    record = estimate(usage(Service.EC2, "m5.xlarge", cpu_utilization_pct=10))
    assert record.compute_kwh == pytest.approx(kwh(1.011, 4), rel=REL)


def test_network_out_costs_0_001_kwh_per_gb():
    record = estimate(usage(Service.EC2, "m5.large", cpu_utilization_pct=50, network_out_bytes=2.5e9))
    assert record.network_kwh == pytest.approx(0.0025 * PUE, rel=REL)


def test_instance_type_missing_from_data_uses_record_capacity_and_averages():
    # Given a type the data does not know, with its size from DescribeInstanceTypes and no family like it
    record = estimate(usage(Service.EC2, "zz9.large", vcpus=2, memory_gib=8, cpu_utilization_pct=50))

    # Then compute uses CCF's AWS average watts (0.74 / 3.5 -> 2.12 W per vCPU at 50 %)
    assert record.compute_kwh == pytest.approx(kwh(2.12, 2), rel=REL)
    # memory above the fallback baseline of 80.69 GB per 96-vCPU chip
    assert record.memory_kwh == pytest.approx((8 - 80.69 * 2 / 96) * MEMORY_KWH * PUE, rel=REL)
    # embodied from the median family's host embodied per vCPU (no sibling: no "zz" class in the data)
    per_vcpu_t = load_coefficients().median_host_embodied_tco2e_per_vcpu
    assert record.embodied_kgco2e == pytest.approx(per_vcpu_t * 2 * 1000 / 35040, rel=REL)
    assert set(record.flags) == {"instance_type_not_in_data", "microarchitecture_unknown", "embodied_from_median"}


def test_instance_type_missing_from_data_without_capacity_is_flagged_not_guessed():
    record = estimate(usage(Service.EC2, "zz9.large", cpu_utilization_pct=50, network_out_bytes=1e9))

    assert record.compute_kwh == record.memory_kwh == record.embodied_kgco2e == 0
    assert record.network_kwh == pytest.approx(0.001 * PUE, rel=REL)
    assert "capacity_unknown" in record.flags


def test_known_type_on_a_microarchitecture_without_coefficients_uses_the_nearest_generation():
    # m6i is Ice Lake, which has no published AWS coefficients: the nearest Intel generation with them,
    # Cascade Lake (0.64 / 3.97 W -> 2.305 W per vCPU at 50 %), applies, and the record says so.
    record = estimate(usage(Service.EC2, "m6i.large", cpu_utilization_pct=50))
    assert record.compute_kwh == pytest.approx(kwh(0.64 + 0.5 * 3.33, 2), rel=REL)
    assert record.flags == ("microarchitecture_mapped:Ice Lake->Cascade Lake",)


def test_unknown_region_uses_the_unknown_factor_and_is_flagged():
    # An isolated (ISO) partition region: no public grid factor, so the documented fallback applies.
    record = estimate(usage(Service.EC2, "m5.large", cpu_utilization_pct=50, region="us-iso-east-1"))

    assert record.grid_kgco2e_per_kwh == pytest.approx(0.39278188, rel=REL)
    assert record.flags == ("region_grid_factor_fallback",)


def test_grid_factor_of_a_clean_region_scales_operational_emissions():
    east = estimate(usage(Service.EC2, "m5.large", cpu_utilization_pct=50))
    north = estimate(usage(Service.EC2, "m5.large", cpu_utilization_pct=50, region="eu-north-1"))
    assert north.energy_kwh == pytest.approx(east.energy_kwh, rel=REL)
    assert north.operational_kgco2e == pytest.approx(east.energy_kwh * 0.0088, rel=REL)


def test_burstable_without_measurement_is_scaled_to_its_baseline():
    # t3.micro: Cascade Lake 0.64 / 3.97 W, baseline 10 % -> 2 vCPUs x 10 / 50 = 0.4 active vCPUs
    record = estimate(usage(Service.EC2, "t3.micro"))

    assert record.compute_kwh == pytest.approx(kwh(0.64 + 0.5 * 3.33, 0.4), rel=REL)
    assert set(record.flags) == {"utilisation_default_50pct", "burstable_baseline_scaling"}
    # embodied: 2 of the 96 vCPUs of the m5 host t3 instances run on (burstable-embodied-hosts.csv: T3 and M5
    # share the Intel Xeon Scalable 8175M / 8259CL), Teads/Davy m5.metal figure 1.6103792 t
    assert record.embodied_kgco2e == pytest.approx(1.6103792 * 1000 / 35040 * 2 / 96, rel=REL)


def test_burstable_with_measurement_uses_all_vcpus():
    record = estimate(usage(Service.EC2, "t3.micro", cpu_utilization_pct=20))
    assert record.compute_kwh == pytest.approx(kwh(0.64 + 0.2 * 3.33, 2), rel=REL)
    assert record.flags == ()


def test_gpu_instance_adds_gpu_energy_at_default_utilisation():
    # p3.2xlarge: 8 Broadwell vCPUs (0.71 / 3.69 W) + 1 Tesla V100 (35 / 306 W), both at 50 % here
    record = estimate(usage(Service.EC2, "p3.2xlarge", cpu_utilization_pct=50))

    cpu = kwh(0.71 + 0.5 * 2.98, 8)
    gpu = kwh(35 + 0.5 * 271, 1)
    assert record.compute_kwh == pytest.approx(cpu + gpu, rel=REL)
    assert record.flags == ("gpu_utilisation_default_50pct",)


def test_burstable_embodied_uses_the_host_of_its_sibling_family():
    # Source: burstable-embodied-hosts.csv (AWS EC2 instance types: T3 and M5 both Intel Xeon Scalable 8175M /
    # 8259CL) and ec2-instance-types.csv's m5.metal row (Teads/Davy host: 1.6103792 t, 96 vCPUs).
    c = load_coefficients()
    m5 = c.instance_type("m5.metal")
    assert (m5.host_embodied_tco2e, m5.host_vcpus) == (1.6103792, 96)

    record = estimate(usage(Service.EC2, "t3.medium", vcpus=2, memory_gib=4, cpu_utilization_pct=10))

    assert record.embodied_kgco2e == pytest.approx(m5.host_embodied_tco2e * 1000 / 35040 * 2 / m5.host_vcpus, rel=REL)
    # only the embodied host changes: power and memory keep t3's own row (Cascade Lake; its 32 GiB "host" is
    # under the per-chip baseline, so no memory), and no fallback is flagged
    assert record.compute_kwh == pytest.approx(kwh(0.64 + 0.1 * 3.33, 2), rel=REL)
    assert record.memory_kwh == 0
    assert record.flags == ()


def test_graviton_burstable_embodied_uses_the_m6g_host():
    # burstable-embodied-hosts.csv: T4g and M6g both AWS Graviton2; m6g host (m6g.metal) 1.332856 t, 64 vCPUs
    m6g = load_coefficients().instance_type("m6g.metal")
    record = estimate(usage(Service.EC2, "t4g.large", cpu_utilization_pct=50))
    assert record.embodied_kgco2e == pytest.approx(m6g.host_embodied_tco2e * 1000 / 35040 * 2 / 64, rel=REL)


def test_type_missing_from_data_shares_the_host_of_its_nearest_sibling_family():
    # Given m7i.large as DescribeInstanceTypes describes it (Sapphire Rapids is Intel; m7i is not in the data)
    c = load_coefficients()
    record = estimate(
        usage(
            Service.EC2,
            "m7i.large",
            vcpus=2,
            memory_gib=8,
            cpu_manufacturer="Intel",
            gpus=0,
            burstable=False,
            cpu_utilization_pct=50,
        )
    )

    # Then its embodied figure is the m6i host's per vCPU (nearest generation, class m, Intel): m6i.metal,
    # 1.7879024 t for 128 vCPUs (Teads/Davy via CCF), and the record says which sibling was used
    m6i = c.instance_type("m6i.metal")
    assert (m6i.host_embodied_tco2e, m6i.host_vcpus) == (1.7879024, 128)
    central = m6i.host_embodied_tco2e / m6i.host_vcpus * 2 * 1000 / 35040
    assert record.embodied_kgco2e == pytest.approx(central, rel=REL)
    assert {"instance_type_not_in_data", "embodied_from_sibling:m7i->m6i"} <= set(record.flags)
    # and its bounds stay as wide as any fallback's: the families' 10th-90th percentile per vCPU, +-30 %, 6 years
    p10, p90 = c.host_embodied_tco2e_per_vcpu_extremes
    assert record.embodied_kgco2e_range.low == pytest.approx(min(p10 * 2000 / 35040, central * 0.7) * 4 / 6, rel=REL)
    assert record.embodied_kgco2e_range.high == pytest.approx(max(p90 * 2000 / 35040, central * 1.3), rel=REL)


@pytest.mark.parametrize(
    ("instance_type", "manufacturer", "sibling"),
    [
        ("m7a.large", "AMD", "m6a"),  # class m, AMD: m6a (gen 6) nearer than m5a
        ("c7g.xlarge", "AWS", "c6g"),  # c6g, c6gd, c6gn equally near: the one without options
        ("m7gd.large", "AWS", "m6gd"),  # equally near m6g and m6gd: the one with local disks too
        ("r8g.2xlarge", "AWS", "r6g"),
        ("m8a.2xlarge", "AMD", "m6a"),
        ("t8i.micro", "Intel", "t3"),  # a burstable sibling lends its own sibling's host (m5)
    ],
)
def test_sibling_family_is_the_nearest_of_the_same_class_and_vendor(instance_type, manufacturer, sibling):
    record = estimate(usage(Service.EC2, instance_type, vcpus=2, memory_gib=8, cpu_manufacturer=manufacturer))
    family = instance_type.split(".")[0]
    assert f"embodied_from_sibling:{family}->{sibling}" in record.flags
    host = load_coefficients().family_host(sibling)
    assert record.embodied_kgco2e == pytest.approx(host.embodied_tco2e / host.vcpus * 2 * 1000 / 35040, rel=REL)


def test_type_without_a_sibling_of_its_vendor_uses_the_median_family():
    # inf2 is AMD (processor-families.csv) and the data's only inf family, inf1, is Intel: no sibling
    c = load_coefficients()
    record = estimate(usage(Service.EC2, "inf2.xlarge", vcpus=4, memory_gib=16, cpu_manufacturer="AMD"))

    assert record.embodied_kgco2e == pytest.approx(c.median_host_embodied_tco2e_per_vcpu * 4 * 1000 / 35040, rel=REL)
    assert {"instance_type_not_in_data", "embodied_from_median"} <= set(record.flags)
    assert not any(flag.startswith("embodied_from_sibling") for flag in record.flags)


def test_gpu_instance_carries_the_larger_of_its_vcpu_and_gpu_shares_of_the_host():
    # g5.xlarge: 4 of the g5 host's 192 vCPUs but 1 of its 8 A10G GPUs (g5.48xlarge, 3.434 t): 1/8 of the host
    record = estimate(usage(Service.EC2, "g5.xlarge", vcpus=4, memory_gib=16, gpus=1, cpu_utilization_pct=50))
    assert record.embodied_kgco2e == pytest.approx(3.434 * 1000 / 35040 / 8, rel=REL)
    # a size whose vCPUs are the larger share keeps the vCPU share: g5.16xlarge, 64 of 192 vCPUs, 1 of 8 GPUs
    large = estimate(usage(Service.EC2, "g5.16xlarge", cpu_utilization_pct=50))
    assert large.embodied_kgco2e == pytest.approx(3.434 * 1000 / 35040 * 64 / 192, rel=REL)
    # the whole host is the whole host either way (p4d.24xlarge: 96 of 96 vCPUs, 8 of 8 GPUs)
    full = estimate(usage(Service.EC2, "p4d.24xlarge", cpu_utilization_pct=50))
    assert full.embodied_kgco2e == pytest.approx(4.6755184 * 1000 / 35040, rel=REL)


def test_gpu_type_missing_from_data_is_charged_per_gpu_of_its_sibling_host():
    # g6 (AMD EPYC 3rd Gen, NVIDIA L4) is not in the data; its sibling g5 holds 8 GPUs in 3.434 t, so one GPU
    # carries 3.434 / 8 t, more than its 4 vCPUs at 3.434 / 192 t each
    record = estimate(
        usage(Service.EC2, "g6.xlarge", vcpus=4, memory_gib=16, gpus=1, gpu_model="NVIDIA L4", cpu_manufacturer="AMD")
    )
    assert "embodied_from_sibling:g6->g5" in record.flags
    assert record.embodied_kgco2e == pytest.approx(3.434 / 8 * 1000 / 35040, rel=REL)


def test_hours_scale_every_time_based_part():
    one = estimate(usage(Service.EC2, "m5.large", cpu_utilization_pct=50))
    half = estimate(usage(Service.EC2, "m5.large", cpu_utilization_pct=50, hours=0.5))
    for field in ("compute_kwh", "memory_kwh", "embodied_kgco2e", "operational_kgco2e"):
        assert getattr(half, field) == pytest.approx(getattr(one, field) / 2, rel=REL)


def test_machines_of_one_type_share_its_size_figures_but_each_keeps_its_own_utilisation():
    # Given three hours of one instance type, the last measured like the first, estimated one after the other
    # (a warm calculator works out a type's figures once and reuses them)
    idle, busy, idle_again = (
        estimate(usage(Service.EC2, "m5.large", vcpus=2, memory_gib=8, cpu_utilization_pct=pct)) for pct in (5, 95, 5)
    )
    unmeasured = estimate(usage(Service.EC2, "m5.large", vcpus=2, memory_gib=8))
    # Then the compute follows each hour's utilisation, and nothing the busy hour computed leaks into the next
    assert idle.compute_kwh < busy.compute_kwh
    assert idle_again == idle
    assert "utilisation_default_50pct" in unmeasured.flags
    assert "utilisation_default_50pct" not in idle_again.flags
    # And what depends on the type and size alone is the same in every hour
    assert idle.memory_kwh == busy.memory_kwh == unmeasured.memory_kwh
    assert idle.embodied_kgco2e == busy.embodied_kgco2e == unmeasured.embodied_kgco2e


# --- EBS ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("volume_type", "wh_per_tb_hour"),
    [("gp2", 1.2), ("gp3", 1.2), ("io1", 1.2), ("io2", 1.2), ("st1", 0.65), ("sc1", 0.65), ("standard", 0.65)],
)
def test_ebs_volume_energy_by_media_with_two_copies(volume_type, wh_per_tb_hour):
    record = estimate(usage(Service.EBS, volume_type, storage_gb=500))

    assert record.storage_kwh == pytest.approx(0.5 * wh_per_tb_hour * 2 / 1000 * PUE, rel=REL)
    assert record.compute_kwh == record.memory_kwh == record.embodied_kgco2e == 0
    assert record.flags == ()


def test_unknown_ebs_volume_type_is_treated_as_ssd_and_flagged():
    record = estimate(usage(Service.EBS, "gp9", storage_gb=1000))
    assert record.storage_kwh == pytest.approx(1.0 * 1.2 * 2 / 1000 * PUE, rel=REL)
    assert record.flags == ("storage_class_unknown",)


# --- S3 -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("storage_type", "copies"),
    [
        ("StandardStorage", 3),
        ("StandardIAStorage", 3),
        ("IntelligentTieringFAStorage", 3),
        ("GlacierInstantRetrievalStorage", 3),
        ("GlacierStorage", 3),
        ("DeepArchiveStorage", 3),
        ("OneZoneIAStorage", 2),
        ("ReducedRedundancyStorage", 2),
    ],
)
def test_s3_storage_is_hdd_with_the_class_replication(storage_type, copies):
    # 2 TB held for the hour: 2 TB-h x 0.65 Wh x copies (CCF methodology: S3 3, One Zone / RRS 2)
    record = estimate(usage(Service.S3, storage_type, resource_id="bucket", storage_gb=2000))
    assert record.storage_kwh == pytest.approx(2 * 0.65 * copies / 1000 * PUE, rel=REL)
    assert record.flags == ()


def test_s3_standard_uses_three_copies_not_ccf_codes_six():
    record = estimate(usage(Service.S3, "StandardStorage", storage_gb=1000))
    assert record.storage_kwh == pytest.approx(0.65 * 3 / 1000 * PUE, rel=REL)
    assert record.storage_kwh != pytest.approx(0.65 * 6 / 1000 * PUE, rel=REL)


def test_s3_energy_is_not_near_zero_for_a_terabyte():
    # CCF issue 1029 read ByteHrs as bytes, giving ~1e-12 kWh for this bucket; the right figure is ~2 Wh.
    record = estimate(usage(Service.S3, "StandardStorage", storage_gb=1000))
    assert record.storage_kwh > 1e-3


def test_unknown_s3_class_gets_standard_treatment_and_a_flag():
    record = estimate(usage(Service.S3, "FancyNewStorage", storage_gb=1000))
    assert record.storage_kwh == pytest.approx(0.65 * 3 / 1000 * PUE, rel=REL)
    assert record.flags == ("storage_class_unknown",)


# --- RDS ------------------------------------------------------------------------------------------------


def test_rds_class_maps_to_the_ec2_type():
    rds = estimate(usage(Service.RDS, "db.m5.large", cpu_utilization_pct=50, engine="postgres"))
    ec2 = estimate(usage(Service.EC2, "m5.large", cpu_utilization_pct=50))

    assert rds.compute_kwh == pytest.approx(ec2.compute_kwh, rel=REL)
    assert rds.memory_kwh == pytest.approx(ec2.memory_kwh, rel=REL)
    assert rds.embodied_kgco2e == pytest.approx(ec2.embodied_kgco2e, rel=REL)
    assert rds.flags == ()


def test_rds_vcpus_come_from_the_rds_table_when_the_record_has_none():
    # db.m4.10xlarge: 40 vCPUs (RDS table); m4 is Haswell;Broadwell -> mean 0.855 / 4.215 W
    record = estimate(usage(Service.RDS, "db.m4.10xlarge", cpu_utilization_pct=0, engine="mysql"))
    assert record.compute_kwh == pytest.approx(kwh((1.0 + 0.71) / 2, 40), rel=REL)


def test_rds_single_az_storage_has_no_replication():
    record = estimate(
        usage(Service.RDS, "db.m5.large", cpu_utilization_pct=50, engine="postgres", storage_gb=100, storage_type="gp2")
    )
    assert record.storage_kwh == pytest.approx(0.1 * 1.2 / 1000 * PUE, rel=REL)


def test_rds_magnetic_storage_is_hdd():
    record = estimate(
        usage(
            Service.RDS, "db.m5.large", cpu_utilization_pct=50, engine="mysql", storage_gb=100, storage_type="standard"
        )
    )
    assert record.storage_kwh == pytest.approx(0.1 * 0.65 / 1000 * PUE, rel=REL)


def test_rds_multi_az_doubles_compute_memory_storage_and_embodied():
    fields = {"cpu_utilization_pct": 50, "engine": "postgres", "storage_gb": 100, "storage_type": "gp3"}
    single = estimate(usage(Service.RDS, "db.m5.large", **fields))
    multi = estimate(usage(Service.RDS, "db.m5.large", multi_az=True, **fields))

    for field in ("compute_kwh", "memory_kwh", "storage_kwh", "embodied_kgco2e"):
        assert getattr(multi, field) == pytest.approx(2 * getattr(single, field), rel=REL)


def test_aurora_storage_has_six_copies_and_replicas_are_not_doubled():
    fields = {"cpu_utilization_pct": 50, "engine": "aurora-postgresql", "storage_gb": 100, "multi_az": True}
    record = estimate(usage(Service.RDS, "db.r5.large", **fields))
    ec2 = estimate(usage(Service.EC2, "r5.large", cpu_utilization_pct=50))

    assert record.storage_kwh == pytest.approx(0.1 * 1.2 * 6 / 1000 * PUE, rel=REL)
    assert record.compute_kwh == pytest.approx(ec2.compute_kwh, rel=REL)
    assert record.flags == ()


def test_rds_class_unknown_everywhere_is_flagged():
    record = estimate(usage(Service.RDS, "db.zz9.large", engine="mysql", storage_gb=10))
    assert "capacity_unknown" in record.flags
    assert "instance_type_not_in_data" in record.flags
    assert record.compute_kwh == 0
    assert record.storage_kwh > 0


def test_aurora_serverless_without_capacity_metric_is_flagged_not_guessed():
    record = estimate(usage(Service.RDS, "db.serverless", engine="aurora-mysql", storage_gb=10))
    assert record.flags == ("capacity_unknown",)
    assert record.compute_kwh == 0
    assert record.storage_kwh > 0


def test_aurora_serverless_capacity_units_stand_in_for_an_instance_size():
    # 8 ACUs -> 2 vCPUs (0.25 per ACU) and 16 GiB (2 GiB per ACU, AWS Aurora User Guide), on the AWS averages
    record = estimate(
        usage(Service.RDS, "db.serverless", engine="aurora-postgresql", capacity_units=8, cpu_utilization_pct=50)
    )
    assert record.compute_kwh == pytest.approx(kwh(2.12, 2), rel=REL)
    assert record.memory_kwh == pytest.approx((16 - 80.69 * 2 / 96) * MEMORY_KWH * PUE, rel=REL)
    assert record.embodied_kgco2e > 0
    assert set(record.flags) == {"aurora_serverless_acu_mapping", "microarchitecture_unknown", "embodied_from_median"}


def test_rds_graviton_and_burstable_classes_map_to_their_ec2_types():
    # db.r6g -> r6g (Graviton2 0.47 / 1.69 W); db.t4g.micro -> t4g.micro (Graviton2, burstable baseline 10 %)
    r6g = estimate(usage(Service.RDS, "db.r6g.large", engine="postgres", cpu_utilization_pct=50))
    assert r6g.compute_kwh == pytest.approx(kwh(0.47 + 0.5 * 1.22, 2), rel=REL)
    assert r6g.flags == ()
    t4g = estimate(usage(Service.RDS, "db.t4g.micro", engine="postgres"))
    assert t4g.compute_kwh == pytest.approx(kwh(0.47 + 0.5 * 1.22, 2 * 10 / 50), rel=REL)
    assert set(t4g.flags) == {"utilisation_default_50pct", "burstable_baseline_scaling"}


def test_rds_class_newer_than_the_data_uses_the_size_the_collector_found():
    # db.r7g.large: r7g is Graviton3 -> Graviton2's coefficients; 2 vCPUs and 16 GiB from DescribeInstanceTypes
    record = estimate(
        usage(Service.RDS, "db.r7g.large", engine="mysql", vcpus=2, memory_gib=16, cpu_utilization_pct=50)
    )
    assert record.compute_kwh == pytest.approx(kwh(0.47 + 0.5 * 1.22, 2), rel=REL)
    assert set(record.flags) == {
        "instance_type_not_in_data",
        "microarchitecture_mapped:AWS Graviton3->AWS Graviton2",
        "embodied_from_sibling:r7g->r6g",
    }


# --- Lambda ---------------------------------------------------------------------------------------------


def test_lambda_x86_uses_average_watts_and_1792_mb_per_vcpu():
    # 1,792 MB for one hour of summed duration = 1 vCPU-hour at 0.74 + 0.5 x 2.76 = 2.12 W
    record = estimate(usage(Service.LAMBDA, "fn", memory_mb=1792, duration_ms=3_600_000, invocations=1000))

    assert record.compute_kwh == pytest.approx(kwh(2.12, 1), rel=REL)
    # memory: 1.75 GiB-h minus the per-chip baseline share of 1 vCPU (80.69 / 96)
    assert record.memory_kwh == pytest.approx((1.75 - 80.69 / 96) * MEMORY_KWH * PUE, rel=REL)
    assert record.embodied_kgco2e == 0
    assert set(record.flags) == {"utilisation_default_50pct", "microarchitecture_unknown"}


def test_lambda_arm64_uses_graviton2():
    # Graviton2 0.47 / 1.69 W; 512 MB for 10 minutes = 512/1792 x 1/6 vCPU-hours
    record = estimate(
        usage(Service.LAMBDA, "fn", memory_mb=512, duration_ms=600_000, architecture="arm64", invocations=10)
    )
    vcpu_hours = 512 / 1792 / 6
    assert record.compute_kwh == pytest.approx(kwh(0.47 + 0.5 * 1.22, vcpu_hours), rel=REL)
    assert record.flags == ("utilisation_default_50pct",)


def test_lambda_arm64_memory_excess_is_smaller_than_x86():
    # Lambda always has 1.75 GiB per vCPU. Graviton2's baseline (129.78 GB per 96 vCPUs = 1.352 GB per vCPU)
    # is higher than the x86 fallback (80.69 / 96 = 0.841), so less memory counts as excess on arm64.
    arm = estimate(usage(Service.LAMBDA, "fn", memory_mb=128, duration_ms=3_600_000, architecture="arm64"))
    x86 = estimate(usage(Service.LAMBDA, "fn", memory_mb=128, duration_ms=3_600_000, architecture="x86_64"))
    assert 0 < arm.memory_kwh < x86.memory_kwh


def test_lambda_without_configured_memory_is_flagged():
    record = estimate(usage(Service.LAMBDA, "fn", duration_ms=1000))
    assert record.energy_kwh == 0
    assert record.flags == ("capacity_unknown",)


def test_idle_lambda_has_no_energy():
    record = estimate(usage(Service.LAMBDA, "fn", memory_mb=1024, duration_ms=0))
    assert record.energy_kwh == 0


# --- batches and rollups --------------------------------------------------------------------------------


def test_estimate_all_keeps_order_and_accepts_explicit_coefficients():
    usages = [
        usage(Service.EC2, "m5.large", resource_id="i-1", cpu_utilization_pct=50),
        usage(Service.EBS, "gp3", resource_id="vol-1", storage_gb=8),
    ]
    records = estimate_all(usages, load_coefficients())
    assert [r.resource_id for r in records] == ["i-1", "vol-1"]


def test_rollup_totals_one_row_per_connection_hour_region_service():
    records = estimate_all(
        [
            usage(Service.EC2, "m5.large", resource_id="i-1", cpu_utilization_pct=50),
            usage(Service.EC2, "c5.large", resource_id="i-2", cpu_utilization_pct=20),
            usage(Service.S3, "StandardStorage", resource_id="logs", storage_gb=100),
            usage(Service.S3, "GlacierStorage", resource_id="logs", storage_gb=900),
            usage(Service.EC2, "m5.large", resource_id="i-3", cpu_utilization_pct=50, region="eu-west-1"),
        ]
    )

    rollups = rollup(records)

    assert [(r.region, r.service) for r in rollups] == [
        ("eu-west-1", Service.EC2),
        ("us-east-1", Service.EC2),
        ("us-east-1", Service.S3),
    ]
    ec2 = rollups[1]
    assert ec2.resources == 2
    assert ec2.energy_kwh == pytest.approx(records[0].energy_kwh + records[1].energy_kwh, rel=REL)
    assert ec2.operational_kgco2e == pytest.approx(
        records[0].operational_kgco2e + records[1].operational_kgco2e, rel=REL
    )
    assert ec2.embodied_kgco2e == pytest.approx(records[0].embodied_kgco2e + records[1].embodied_kgco2e, rel=REL)
    assert rollups[2].resources == 1  # one bucket, two storage classes
    assert all(r.methodology_version == METHODOLOGY_VERSION for r in rollups)
    assert all(r.connection_id == "acme" and r.hour == HOUR for r in rollups)


def test_rollup_of_nothing_is_empty():
    assert rollup([]) == []


def test_every_instance_type_in_the_data_gets_a_finite_positive_estimate():
    # Guards the data files: a bad row (missing host size, unknown GPU model, zero vCPUs) would show up here.
    for name in load_coefficients().instance_types:
        record = estimate(usage(Service.EC2, name, cpu_utilization_pct=50))
        assert 0 < record.compute_kwh < 10, name
        assert 0 <= record.memory_kwh < 10, name
        assert 0 < record.embodied_kgco2e < 10, name
        assert "gpu_model_unknown" not in record.flags, name
