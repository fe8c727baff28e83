"""CloudFront's estimate, worked by hand: the bytes its edge moved, times an energy per GB, at the world grid.

Coefficients (``emissions/data/``): ``cloudfront-energy.csv`` gives 0.059 kWh/GB (low 0.001, high 0.114) and an
embodied 0.025 kWh-equivalent per GB (low 0); ``grid-emission-factors.csv`` gives ``global`` 494 g/kWh, bounded
by the table's lowest and highest factors. The shared PUE bounds scale energy by 1.04 / 1.135 and 1.25 / 1.135.
"""

from __future__ import annotations

import pytest

from carbonmeter.emissions import estimate, load_coefficients
from carbonmeter.emissions.coefficients import DeploymentChoices, with_choices
from carbonmeter.emissions.providers import provider_for
from carbonmeter.models import GLOBAL_REGION, Service
from carbonmeter.settings import ConfigurationError, Settings
from tests.support.estimates import REL, usage

PUE_LOW, PUE_HIGH = 1.04 / 1.135, 1.25 / 1.135
GRID_KG = 0.494


def distribution(downloaded: float, uploaded: float = 0.0, **fields: object):
    fields.setdefault("region", GLOBAL_REGION)
    return usage(Service.CLOUDFRONT, "distribution", bytes_downloaded=downloaded, bytes_uploaded=uploaded, **fields)


def test_a_terabyte_delivered_is_59_kwh_of_edge_and_network_at_the_world_grid():
    # 990 GB down + 10 GB up = 1,000 GB x 0.059 kWh/GB, no PUE on top (the figure is whole-system energy)
    record = estimate(distribution(990e9, 10e9))

    assert record.network_kwh == pytest.approx(59.0, rel=REL)
    assert record.compute_kwh == record.memory_kwh == record.storage_kwh == 0
    assert record.energy_kwh == pytest.approx(59.0, rel=REL)
    assert record.grid_kgco2e_per_kwh == pytest.approx(GRID_KG)
    assert record.operational_kgco2e == pytest.approx(59.0 * GRID_KG, rel=REL)
    # Embodied: 1,000 GB x 0.025 kWh-equivalent x 0.494 kg/kWh
    assert record.embodied_kgco2e == pytest.approx(12.35, rel=REL)
    assert record.flags == ("cloudfront_kwh_per_gb_default", "grid_factor_world_average")


def test_its_bounds_span_the_published_figures_and_the_whole_grid_table():
    c = load_coefficients()
    record = estimate(distribution(1e12))
    factors = [f for region, f in c.grid_tco2e_per_kwh.items() if region != "unknown"]

    # 0.001 to 0.114 kWh/GB, times the shared PUE bounds
    assert record.energy_kwh_range.low == pytest.approx(1.0 * PUE_LOW, rel=REL)
    assert record.energy_kwh_range.high == pytest.approx(114.0 * PUE_HIGH, rel=REL)
    assert record.operational_kgco2e_range.low == pytest.approx(1.0 * PUE_LOW * min(factors) * 1000, rel=REL)
    assert record.operational_kgco2e_range.high == pytest.approx(114.0 * PUE_HIGH * max(factors) * 1000, rel=REL)
    assert (record.embodied_kgco2e_range.low, record.embodied_kgco2e_range.high) == (0, pytest.approx(12.35))


def test_an_hour_without_traffic_is_zero_but_still_a_record():
    record = estimate(distribution(0))

    assert (record.energy_kwh, record.operational_kgco2e, record.embodied_kgco2e) == (0, 0, 0)
    assert "cloudfront_kwh_per_gb_default" in record.flags


def test_a_deployment_chosen_figure_replaces_the_central_one_and_says_so():
    # Given a deployment choosing 0.2 kWh/GB, above every published figure
    c = with_choices(DeploymentChoices(cloudfront_kwh_per_gb=0.2))
    record = estimate(distribution(1e12), c)

    # Then the central figure is its choice, the band widens to hold it, and the record is flagged so
    assert record.network_kwh == pytest.approx(200.0, rel=REL)
    assert record.energy_kwh_range.low == pytest.approx(1.0 * PUE_LOW, rel=REL)
    assert record.energy_kwh_range.high == pytest.approx(200.0 * PUE_HIGH, rel=REL)
    assert record.flags == ("cloudfront_kwh_per_gb_configured", "grid_factor_world_average")
    # And nothing else moves: embodied and other services keep the bundled figures
    assert record.embodied_kgco2e == pytest.approx(12.35, rel=REL)
    ec2 = usage(Service.EC2, "m5.large", cpu_utilization_pct=50)
    assert estimate(ec2, c) == estimate(ec2)


def test_the_setting_reaches_the_calculators_provider_from_the_environment():
    settings = Settings.from_env({"CARBONMETER_CLOUDFRONT_KWH_PER_GB": "0.03"})
    record = provider_for(settings, clients=None).estimate([distribution(1e12)])[0]  # type: ignore[arg-type]

    assert settings.cloudfront_kwh_per_gb == 0.03
    assert record.network_kwh == pytest.approx(30.0, rel=REL)
    assert "cloudfront_kwh_per_gb_configured" in record.flags


@pytest.mark.parametrize("value", ["0", "-0.1", "2", "a lot"])
def test_an_impossible_figure_is_refused_at_configuration(value: str):
    with pytest.raises(ConfigurationError):
        Settings.from_env({"CARBONMETER_CLOUDFRONT_KWH_PER_GB": value})


def test_a_regional_record_is_not_flagged_with_the_world_grid():
    record = estimate(usage(Service.EBS, "gp3", storage_gb=100))

    assert "grid_factor_world_average" not in record.flags
