"""Grafana provisioning: the datasources and dashboards parse, every panel points at a
provisioned datasource, and every metric a PromQL query names is one AETHERIS exports.
(The risk dashboard's SQL runs against a migrated TimescaleDB in
tests/integration/db/test_grafana_queries.py.)"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import REGISTRY

import api.observability
import infra.notify.metrics
import pipelines.metrics

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
MODULES = (pipelines.metrics, api.observability, infra.notify.metrics)
SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}


def dashboards() -> dict[str, dict[str, Any]]:
    return {
        p.stem: json.loads(p.read_text()) for p in sorted((GRAFANA / "dashboards").glob("*.json"))
    }


def exported_samples() -> set[str]:
    assert all(MODULES)  # imported: their metrics are registered
    names: set[str] = set()
    for family in REGISTRY.collect():
        for suffix in SUFFIXES.get(family.type, ("",)):
            names.add(family.name + suffix)
    return names


def datasource_uids() -> dict[str, str]:
    config = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "aetheris.yml").read_text())
    return {source["uid"]: source["type"] for source in config["datasources"]}


def test_both_dashboards_exist_with_unique_panel_ids() -> None:
    found = dashboards()
    assert set(found) == {"operations", "risk"}
    for name, board in found.items():
        ids = [panel["id"] for panel in board["panels"]]
        assert len(ids) == len(set(ids)), name
        assert board["uid"] == f"aetheris-{name}"
        for panel in board["panels"]:
            assert panel["title"] and panel["targets"], f"{name}: {panel['id']}"


def test_every_panel_uses_a_provisioned_datasource() -> None:
    uids = datasource_uids()
    assert uids == {
        "aetheris-prometheus": "prometheus",
        "aetheris-timescaledb": "grafana-postgresql-datasource",
    }
    for name, board in dashboards().items():
        for panel in board["panels"]:
            for target in [panel, *panel["targets"]]:
                source = target["datasource"]
                assert uids[source["uid"]] == source["type"], f"{name}: {panel['title']}"


def test_every_promql_metric_is_exported_by_an_aetheris_process() -> None:
    exported = exported_samples()
    used: set[str] = set()
    for panel in dashboards()["operations"]["panels"]:
        for target in panel["targets"]:
            used |= set(re.findall(r"\b(aetheris_[a-z_]+|process_[a-z_]+)\b", target["expr"]))
    # The list: pipeline, API and worker metrics all on the dashboard.
    for wanted in (
        "aetheris_pipeline_events_in_total",
        "aetheris_pipeline_events_out_total",
        "aetheris_pipeline_consumer_lag",
        "aetheris_pipeline_batch_seconds_bucket",
        "aetheris_pipeline_breaches_total",
        "aetheris_pipeline_dead_letters_total",
        "aetheris_pipeline_snapshot_seconds_bucket",
        "aetheris_api_requests_total",
        "aetheris_api_request_seconds_bucket",
        "aetheris_api_websocket_clients",
        "aetheris_api_realtime_clients",
        "aetheris_api_fanout_seconds_bucket",
        "aetheris_notify_deliveries_total",
        "aetheris_notify_retries_total",
        "aetheris_notify_failures_total",
    ):
        assert wanted in used, f"{wanted} is on no panel"
    missing = {name for name in used if name.startswith("aetheris_")} - exported
    assert not missing, f"not exported by any process: {sorted(missing)}"


def test_the_risk_dashboard_reads_the_aggregates_and_the_breaches_table() -> None:
    queries = " ".join(
        target["rawSql"] for panel in dashboards()["risk"]["panels"] for target in panel["targets"]
    )
    for relation in ("breaches", "hourly_balance_stats", "hourly_trade_stats", "daily_account_pnl"):
        assert re.search(rf"\bFROM {relation}\b", queries), relation


def test_the_dashboard_provider_path_is_where_compose_mounts_the_files() -> None:
    provider = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "aetheris.yml").read_text()
    )
    path = provider["providers"][0]["options"]["path"]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert f"./deploy/grafana/dashboards:{path}:ro" in compose["services"]["grafana"]["volumes"]
