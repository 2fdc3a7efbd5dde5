"""Grafana dashboards (SPEC §6, issue 5): every query of every panel of every provisioned
dashboard returns data from a real Prometheus after a workload through the functions.

Two rounds of the metrics workload run with a Prometheus scrape in between, so every counter
rises inside the rate window; each panel target's expression is then run (Grafana's variables
replaced: $namespace by the test's namespace, $type by ".*", $__rate_interval by a window that
covers the workload, $__range by an hour) and must answer at least one finite sample. The
template variables' label_values() queries must find the namespace and the job types."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from boltq_core import Queue
from tests.conftest import wait_for
from tests.observability.conftest import Prometheus
from tests.observability.helpers import Promoters, run_workers
from tests.observability.test_metrics import EXPECTED, all_done, submit_workload

ROOT = Path(__file__).resolve().parents[2]
PROVISIONING = ROOT / "infra" / "grafana" / "provisioning"
DASHBOARDS = sorted((PROVISIONING / "dashboards").glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def panels(dash: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for p in dash["panels"]:
        out.append(p)
        out.extend(p.get("panels", []))  # collapsed rows
    return [p for p in out if p.get("type") != "row"]


def substitute(expr: str, namespace: str) -> str:
    values = {"__rate_interval": "5m", "__interval": "15s", "__range": "1h",
              "namespace": namespace, "type": ".*"}

    def one(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        assert name in values, f"unknown Grafana variable ${name} in {expr}"
        return values[name]

    out = re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", one, expr)
    assert "$" not in out, out
    return out


def test_dashboards_are_provisioned_and_well_formed() -> None:
    assert [p.stem for p in DASHBOARDS] == ["jobs", "system", "workers"]
    ds = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())
    [source] = ds["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "${PROMETHEUS_URL}"
    provider = yaml.safe_load((PROVISIONING / "dashboards" / "boltq.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/etc/grafana/provisioning/dashboards"
    uids = set()
    for path in DASHBOARDS:
        dash = load(path)
        uids.add(dash["uid"])
        ids = [p["id"] for p in panels(dash)]
        assert len(ids) == len(set(ids)), path
        for p in panels(dash):
            assert p["datasource"]["uid"] == source["uid"], (path.name, p["title"])
            assert p["targets"] and all(t["expr"].strip() for t in p["targets"]), p["title"]
            assert p["fieldConfig"]["defaults"]["unit"], p["title"]
            assert p["fieldConfig"]["defaults"]["thresholds"]["steps"], p["title"]
            grid = p["gridPos"]
            assert grid["x"] + grid["w"] <= 24, p["title"]
    assert len(uids) == len(DASHBOARDS)


def run_round(q: Queue, total: int) -> None:
    submit_workload(q)
    with Promoters():
        rounds = 0
        while not all_done(q, total):
            run_workers(4)
            rounds += 1
            assert rounds < 10, q.stats()


def test_every_dashboard_panel_returns_data(env: Queue, pushgateway: str,
                                            prometheus: Prometheus,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    q = env
    monkeypatch.setenv("PUSHGATEWAY_URL", pushgateway)
    ns = q.settings.key_prefix
    sel = f'namespace="{ns}"'
    per_round = sum(EXPECTED["attempts"].values())

    def prom_attempts() -> float:
        return sum(prometheus.values(f"boltq_job_processing_seconds_count{{{sel}}}",
                                     "type").values())

    n = sum(EXPECTED["first_attempts"].values())
    run_round(q, n)
    wait_for(lambda: prom_attempts() == per_round, timeout=15, every=0.2)
    run_round(q, 2 * n)  # every counter rises after Prometheus has a sample of the first round
    wait_for(lambda: prom_attempts() == 2 * per_round, timeout=15, every=0.2)

    empty = []
    checked = 0
    for path in DASHBOARDS:
        dash = load(path)
        for p in panels(dash):
            for t in p["targets"]:
                expr = substitute(t["expr"], ns)
                result = prometheus.query(expr)
                finite = [r for r in result if math.isfinite(float(r["value"][1]))]
                checked += 1
                if not finite:
                    empty.append(f"{path.name} / {p['title']} / {t['refId']}: {expr} -> {result}")
        for v in dash["templating"]["list"]:
            m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", v["query"]["query"])
            assert m, v
            expr, label = substitute(m.group(1), ns), m.group(2)
            found = prometheus.values(f"count by ({label}) ({expr})", label)
            want = ns if label == "namespace" else "echo"
            assert want in found, (path.name, v["name"], found)
    assert not empty, "panels without data:\n" + "\n".join(empty)
    assert checked >= 30
