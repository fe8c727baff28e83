"""API Gateway's estimate, worked by hand: a REST stage cache is memory-hours, HTTP bytes processed are network,
requests add nothing.

Coefficients (``emissions/data/constants.json``): memory 0.000392 kWh per GB-hour (bounds 0.284 .. 0.5 W per GB),
network 0.001 kWh per GB (bounds x 0 .. x 1), PUE 1.135 (bounds 1.04 .. 1.25); us-east-1 0.379069 kg per kWh.
"""

from __future__ import annotations

import pytest

from carbonmeter.emissions import estimate
from carbonmeter.models import Service
from carbonmeter.services.apigateway import ApiGatewayUsage, cache_size_gb
from tests.support.estimates import MEMORY_KWH, PUE, REL, US_EAST_1_KG, usage


def api_usage(protocol: str, **fields: object):
    return usage(Service.APIGATEWAY, protocol, protocol=protocol, **fields)


def test_a_rest_stage_cache_is_its_size_in_memory_for_the_hour():
    # 6.1 GB x 1 h x 0.000392 kWh x 1.135 = 0.002714012 kWh
    record = estimate(api_usage("REST", cache_gb=6.1, cache_stages=1, requests=250_000))

    assert record.memory_kwh == pytest.approx(6.1 * MEMORY_KWH * PUE, rel=REL)
    assert record.memory_kwh == pytest.approx(0.002714012, rel=REL)
    assert record.energy_kwh == record.memory_kwh
    assert record.operational_kgco2e == pytest.approx(0.002714012 * US_EAST_1_KG, rel=REL)
    # Bounds: 0.284 W per GB at the best PUE, 0.5 W per GB at the industry average
    assert record.energy_kwh_range is not None
    assert record.energy_kwh_range.low == pytest.approx(6.1 * 0.000284 * 1.04, rel=REL)
    assert record.energy_kwh_range.high == pytest.approx(6.1 * 0.0005 * 1.25, rel=REL)
    # No compute and no embodied part: the cluster's hardware is not published
    assert record.compute_kwh == record.storage_kwh == record.network_kwh == record.embodied_kgco2e == 0
    assert set(record.flags) == {
        "apigateway_requests_not_estimated",
        "apigateway_data_not_measured",
        "apigateway_cache_memory_only",
    }


def test_two_caching_stages_count_as_their_summed_size_over_the_records_hours():
    half_hour = estimate(api_usage("REST", cache_gb=0.5 + 1.6, cache_stages=2, hours=0.5))
    assert half_hour.memory_kwh == pytest.approx(2.1 * 0.5 * MEMORY_KWH * PUE, rel=REL)


def test_http_api_bytes_processed_are_network_at_the_methodologys_coefficient():
    # 2 GB x 0.001 kWh x 1.135 = 0.00227 kWh, bounded by 0 and the figure at PUE 1.25
    record = estimate(api_usage("HTTP", requests=1_000_000, network_out_bytes=2e9))

    assert record.network_kwh == pytest.approx(0.00227, rel=REL)
    assert record.energy_kwh == record.network_kwh
    assert record.energy_kwh_range is not None
    assert record.energy_kwh_range.low == 0
    assert record.energy_kwh_range.high == pytest.approx(2 * 0.001 * 1.25, rel=REL)
    assert set(record.flags) == {"apigateway_requests_not_estimated", "apigateway_data_processed_as_network"}


def test_requests_are_kept_but_add_nothing():
    quiet = estimate(api_usage("WEBSOCKET", requests=10))
    busy = estimate(api_usage("WEBSOCKET", requests=10_000_000))

    assert quiet.energy_kwh == busy.energy_kwh == 0
    assert quiet.embodied_kgco2e == busy.embodied_kgco2e == 0
    assert set(busy.flags) == {"apigateway_requests_not_estimated", "apigateway_data_not_measured"}


def test_a_caching_stage_without_a_size_has_api_gateways_default_cluster():
    assert cache_size_gb({"cacheClusterEnabled": True}) == 0.5
    assert cache_size_gb({"cacheClusterEnabled": True, "cacheClusterSize": "237"}) == 237.0


def test_details_default_to_a_rest_api_without_cache_or_requests_read():
    details = ApiGatewayUsage()
    assert (details.protocol, details.cache_gb, details.cache_stages, details.requests) == ("REST", 0.0, 0, None)
