"""The bundled data files: parsed correctly, corrections applied, every constant sourced."""

import csv
import json
from importlib import resources

import pytest

from carbonmeter.emissions import load_coefficients
from carbonmeter.emissions.coefficients import UNKNOWN_MICROARCHITECTURE


@pytest.fixture(scope="module")
def c():
    return load_coefficients()


def _data(name):
    return resources.files("carbonmeter.emissions").joinpath("data", name).read_text(encoding="utf-8")


def _csv(name):
    return list(csv.DictReader(_data(name).splitlines()))


def test_loading_is_cached():
    assert load_coefficients() is load_coefficients()


def test_constants_match_ccf_aws_cloud_constants(c):
    # Source: CCF packages/aws/src/domain/AwsFootprintEstimationConstants.ts (AWS_CLOUD_CONSTANTS).
    k = c.constants
    assert (k.pue, k.memory_kwh_per_gib_hour, k.network_kwh_per_gb) == (1.135, 0.000392, 0.001)
    assert (k.ssd_wh_per_tb_hour, k.hdd_wh_per_tb_hour) == (1.2, 0.65)
    assert (k.unknown_min_watts, k.unknown_max_watts, k.memory_gib_per_chip_fallback) == (0.74, 3.5, 80.69)
    assert (k.default_utilisation_pct, k.lambda_mb_per_vcpu, k.server_life_hours) == (50, 1792, 35040)
    assert (k.replication_rds_multi_az, k.replication_aurora_storage) == (2, 6)


def test_every_constant_names_its_source():
    document = json.loads(_data("constants.json"))
    for name, entry in document.items():
        assert entry.get("source"), name
        assert entry.get("unit"), name
        assert "value" in entry, name


def test_sources_file_gives_origin_licence_and_date_for_every_data_file():
    sources = _data("SOURCES.md")
    for name in (
        "ec2-instance-types.csv",
        "processors.csv",
        "grid-emission-factors.csv",
        "rds-instance-vcpus.csv",
        "storage-classes.csv",
        "constants.json",
        "processor-families.csv",
        "microarchitecture-substitutes.csv",
        "gpu-models.csv",
        "burstable-embodied-hosts.csv",
    ):
        assert f"`{name}`" in sources
    for fact in ("b7a049c", "March 2024", "Apache", "Thoughtworks", "Teads"):
        assert fact in sources


def test_m5_large_row(c):
    m5 = c.instance_type("m5.large")
    assert (m5.vcpus, m5.memory_gib, m5.host_vcpus, m5.host_memory_gib) == (2, 8, 96, 384)
    assert m5.host_embodied_tco2e == pytest.approx(1.6103792)
    assert m5.microarchitectures == ("Skylake",)


def test_t1_micro_memory_decimal_point_restored(c):
    # Correction 1 in SOURCES.md: upstream says 613 GiB; AWS documents 0.613 GiB.
    assert c.instance_type("t1.micro").memory_gib == pytest.approx(0.613)


def test_u_family_virtualised_sizes_share_the_metal_host_embodied(c):
    # Correction 2 in SOURCES.md.
    for family in ("u-6tb1", "u-9tb1", "u-12tb1"):
        values = {t.host_embodied_tco2e for t in c.instance_types.values() if t.family == family}
        assert values == {35.762264}


def test_graviton2_storage_optimised_families_filled_in(c):
    # Correction 3 in SOURCES.md.
    assert c.instance_type("im4gn.large").microarchitectures == ("AWS Graviton2",)
    assert c.instance_type("is4gen.medium").microarchitectures == ("AWS Graviton2",)


def test_no_instance_type_lacks_a_microarchitecture_entry(c):
    assert all(t.microarchitectures for t in c.instance_types.values())


def test_gpu_models_all_have_coefficients(c):
    models = {t.gpu_model for t in c.instance_types.values() if t.gpu_model}
    assert models
    assert all(c.gpu_watts(model) is not None for model in models)


def test_mixed_microarchitectures_are_averaged(c):
    watts = c.cpu_watts(("Cascade Lake", "Skylake"))
    assert watts.known
    assert watts.min_watts == pytest.approx((0.64 + 0.65) / 2)
    assert watts.max_watts == pytest.approx((3.97 + 4.26) / 2)


def test_median_is_used_when_sandy_or_ivy_bridge_is_present(c):
    # CCF core getWattsByAverageOrMedian.
    watts = c.cpu_watts(("Sandy Bridge", "Ivy Bridge", "Haswell"))
    assert watts.min_watts == pytest.approx(2.17)
    assert watts.max_watts == pytest.approx(8.25)


@pytest.mark.parametrize("microarchitecture", [UNKNOWN_MICROARCHITECTURE, "Ice Lake", "AMD EPYC 3rd Gen"])
def test_the_coefficient_table_itself_has_no_entry_for_these(c, microarchitecture):
    # The raw look-up knows only SPECpower-derived rows; substitutes are applied by emissions.hardware.
    watts = c.cpu_watts((microarchitecture,))
    assert (watts.min_watts, watts.max_watts, watts.known) == (0.74, 3.5, False)
    assert c.memory_gib_per_chip((microarchitecture,)) == 80.69


def test_chips_per_host(c):
    assert c.chips(c.instance_type("m5.large")) == 1
    assert c.chips(c.instance_type("m6i.large")) == 2  # 128 vCPUs
    assert c.chips(c.instance_type("z1d.large")) == 2  # override: two sockets at 48 vCPUs
    assert c.chips(c.instance_type("m5zn.large")) == 2


def test_grid_factor_of_a_known_and_an_unknown_region(c):
    assert c.grid_factor("us-east-1") == (0.000379069, True)
    assert c.grid_factor("eu-north-1") == (0.0000088, True)
    assert c.grid_factor("xx-nowhere-9") == (0.00039278188, False)


def test_s3_replication_is_three_and_one_zone_two(c):
    assert c.storage_class("s3", "StandardStorage")[0].replication_factor == 3
    assert c.storage_class("s3", "OneZoneIAStorage")[0].replication_factor == 2
    assert c.storage_class("s3", "ReducedRedundancyStorage")[0].replication_factor == 2
    assert all(s.media == "hdd" for (service, _), s in c.storage_classes.items() if service == "s3")


def test_ebs_media(c):
    for volume_type in ("gp2", "gp3", "io1", "io2"):
        assert c.storage_class("ebs", volume_type)[0].media == "ssd"
    for volume_type in ("st1", "sc1", "standard", "snapshot"):
        assert c.storage_class("ebs", volume_type)[0].media == "hdd"


def test_unknown_storage_class_falls_back_to_the_service_default(c):
    storage_class, known = c.storage_class("s3", "SomethingNewStorage")
    assert (storage_class.name, known) == ("StandardStorage", False)


def test_rds_vcpu_table(c):
    assert c.rds_vcpus["db.m4.10xlarge"] == 40
    assert c.rds_vcpus["db.r6g.large"] == 2


def test_median_embodied_per_vcpu_sits_inside_the_fallback_bounds(c):
    # Hosts weigh ~1-36 t over 1-448 vCPUs; the median family lies between the 10th and 90th percentiles, and
    # below the mean, which the tiny "hosts" (m1-m3, c1, hs1) pull up.
    p10, p90 = c.host_embodied_tco2e_per_vcpu_extremes
    own = [h.tco2e_per_vcpu for family, h in c.family_hosts.items() if family not in c.burstable_hosts]
    assert p10 < c.median_host_embodied_tco2e_per_vcpu < p90
    assert c.median_host_embodied_tco2e_per_vcpu < sum(own) / len(own)


def test_median_and_percentiles_leave_out_the_borrowed_burstable_hosts(c):
    import statistics

    own = [h.tco2e_per_vcpu for family, h in c.family_hosts.items() if family not in c.burstable_hosts]
    assert c.median_host_embodied_tco2e_per_vcpu == pytest.approx(statistics.median(own))
    deciles = statistics.quantiles(own, n=10)
    assert c.host_embodied_tco2e_per_vcpu_extremes == pytest.approx((deciles[0], deciles[-1]))


def test_burstable_host_table_covers_every_burstable_family_of_the_data(c):
    # Every family with a burstable baseline in ec2-instance-types.csv (and t1, burstable before baselines existed)
    burstable = {t.family for t in c.instance_types.values() if t.burstable_baseline_pct is not None}
    assert burstable == {"t2", "t3", "t3a", "t4g"}
    assert burstable | {"t1"} == set(c.burstable_hosts)


def test_each_burstable_family_borrows_a_larger_non_burstable_host_of_its_vendor(c):
    rows = {r["family"]: r for r in _csv("burstable-embodied-hosts.csv")}
    for family, host_family in c.burstable_hosts.items():
        assert host_family in c.family_hosts, family
        assert host_family not in c.burstable_hosts, family
        assert c.family_host(family).vcpus > c.family_hosts[family].vcpus, family
        assert rows[family]["source"].startswith("AWS EC2"), family
        # the same CPU vendor wherever the data knows both (t1 and m1 are marked Unknown)
        if family in c.family_manufacturers and host_family in c.family_manufacturers:
            assert c.family_manufacturers[family] == c.family_manufacturers[host_family], family


def test_burstable_types_keep_their_own_row_for_power_and_memory(c):
    # Only the embodied host is borrowed; the row itself stays as CCF publishes it.
    t3 = c.instance_type("t3.medium")
    assert (t3.host_vcpus, t3.host_memory_gib, t3.microarchitectures) == (8, 32, ("Cascade Lake",))
    assert c.embodied_host(t3).family == "m5"
    assert c.embodied_host(c.instance_type("t3a.large")).family == "m5a"
    assert c.embodied_host(c.instance_type("t2.micro")).family == "m4"


def test_gpu_hosts_hold_the_largest_gpu_count_of_their_family(c):
    assert c.family_hosts["g5"].gpus == 8
    assert c.family_hosts["g4dn"].gpus == 8
    assert c.family_hosts["p2"].gpus == 16
    assert c.family_hosts["m5"].gpus == 0


def test_every_cpu_has_a_vendor(c):
    # processors.csv's manufacturer column (added by CarbonMeter) names the vendor of every CPU row.
    cpus = [p for p in c.processors.values() if p.kind == "cpu"]
    assert {p.manufacturer for p in cpus} == {"Intel", "AMD", "AWS"}
    assert c.family_manufacturers["m5"] == "Intel"
    assert c.family_manufacturers["m6i"] == "Intel"  # Ice Lake: vendor from the substitutes table
    assert c.family_manufacturers["c6g"] == "AWS"
    assert "m1" not in c.family_manufacturers  # CPU marked Unknown: never anyone's sibling


def test_substitutes_table(c):
    assert c.substitutes["Ice Lake"] == "Cascade Lake"
    assert c.substitutes["AWS Graviton4"] == "AWS Graviton2"
    assert c.substitutes["AMD EPYC 4th Gen"] == "AMD EPYC 2nd Gen"


def test_processor_family_table(c):
    assert c.processor_families["m7i"].microarchitectures == ("Sapphire Rapids",)
    assert c.processor_families["r8g"].manufacturer == "AWS"
    assert c.processor_families["i3"].microarchitectures == ("Broadwell",)


def test_gpu_tdp_ratios_come_from_the_gpus_with_both_figures(c):
    # T4 8/71 W at 70 W, A10G 18/153 at 150, A100 46/407 at 400, V100 35/306 at 300 (CCF and NVIDIA datasheets)
    idle, full = c.gpu_watts_per_tdp()
    assert idle == pytest.approx((8 / 70 + 8 / 70 + 18 / 150 + 46 / 400 + 35 / 300) / 5)
    assert full == pytest.approx((71 / 70 + 71 / 70 + 153 / 150 + 407 / 400 + 306 / 300) / 5)


def test_every_uncertainty_constant_is_sourced_and_ordered(c):
    k = c.constants
    assert k.pue_low < k.pue < k.pue_high
    assert k.memory_kwh_per_gib_hour_low < k.memory_kwh_per_gib_hour < k.memory_kwh_per_gib_hour_high
    assert k.server_life_hours < k.server_life_hours_long
    assert 0 <= k.network_factor_low <= 1 <= k.network_factor_high
