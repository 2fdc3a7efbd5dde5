"""docker-compose.local.yml (SPEC §6, §9; issue 5), checked without Docker: the services, the
bind mounts exist in the repository and land where the images and the provisioning expect
them, the ports agree with what Prometheus scrapes and what functions/sam-env.local.json
points the functions at, and Grafana's admin password has no default."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.local.yml"


def resolve(value: str) -> str:
    """Compose interpolation with every variable unset: ${X:-default} -> default."""
    def one(m: re.Match[str]) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3)
        assert op == ":-", f"${{{name}}} has no default ({value})"
        return arg or ""

    return re.sub(r"\$\{(\w+)(:-|:\?|-|\?)?([^}]*)\}", one, value)


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text()))


def ports(service: dict[str, Any]) -> dict[int, int]:
    """{container port: host port} with the defaults."""
    out = {}
    for p in service.get("ports", []):
        host, container = resolve(str(p)).rsplit(":", 1)
        out[int(container)] = int(host.rsplit(":", 1)[-1])
    return out


def mounts(service: dict[str, Any]) -> dict[str, Path]:
    """{container path: repository path} of the bind mounts."""
    out = {}
    for v in service.get("volumes", []):
        src, dst = str(v).split(":")[:2]
        if src.startswith("."):
            out[dst] = (ROOT / src).resolve()
    return out


def test_services_and_ports() -> None:
    c = compose()
    s = c["services"]
    assert set(s) == {"valkey", "pushgateway", "prometheus", "grafana", "jaeger"}
    assert all(":" in svc["image"] and not svc["image"].endswith(":latest") for svc in s.values())
    assert ports(s["valkey"]) == {6379: 6379}
    assert ports(s["pushgateway"]) == {9091: 9091}
    assert ports(s["prometheus"]) == {9090: 9090}
    assert ports(s["grafana"]) == {3000: 3000}
    assert ports(s["jaeger"]) == {16686: 16686, 4318: 4318, 4317: 4317}
    assert s["jaeger"]["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"
    host_ports = [h for svc in s.values() for h in ports(svc).values()]
    assert len(host_ports) == len(set(host_ports))
    # named volumes are declared
    for svc in s.values():
        for v in svc.get("volumes", []):
            src = str(v).split(":")[0]
            if not src.startswith("."):
                assert src in c["volumes"], src
    # the functions under `sam local` reach these ports on the Docker host
    sam = json.loads((ROOT / "functions" / "sam-env.local.json").read_text())["Parameters"]
    assert urlparse(sam["REDIS_URL"]).port == ports(s["valkey"])[6379]
    assert urlparse(sam["PUSHGATEWAY_URL"]).port == ports(s["pushgateway"])[9091]
    assert urlparse(sam["OTEL_EXPORTER_OTLP_ENDPOINT"]).port == ports(s["jaeger"])[4318]


def test_mounts_exist_and_match_the_configs() -> None:
    s = compose()["services"]
    prom = mounts(s["prometheus"])
    config = prom["/etc/prometheus/prometheus.yml"]
    assert config.is_file()
    assert "--config.file=/etc/prometheus/prometheus.yml" in s["prometheus"]["command"]
    # Prometheus scrapes the compose Pushgateway by its service name and container port
    scrape = yaml.safe_load(config.read_text())["scrape_configs"]
    [push_job] = [j for j in scrape if j["job_name"] == "pushgateway"]
    assert push_job["honor_labels"] is True
    host, port = push_job["static_configs"][0]["targets"][0].split(":")
    assert host in s and int(port) in ports(s[host])

    provisioning = mounts(s["grafana"])["/etc/grafana/provisioning"]
    assert provisioning == ROOT / "infra" / "grafana" / "provisioning"
    assert (provisioning / "datasources" / "prometheus.yml").is_file()
    provider = yaml.safe_load((provisioning / "dashboards" / "boltq.yml").read_text())
    path = Path(provider["providers"][0]["options"]["path"])
    in_repo = provisioning / path.relative_to("/etc/grafana/provisioning")
    assert sorted(p.name for p in in_repo.glob("*.json")) == [
        "jobs.json", "system.json", "workers.json"]
    env = s["grafana"]["environment"]
    home = Path(env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    assert (provisioning / home.relative_to("/etc/grafana/provisioning")).is_file()
    # the datasource URL comes from the environment, defaulting to the compose Prometheus
    url = urlparse(resolve(env["PROMETHEUS_URL"]))
    assert url.hostname in s and url.port in ports(s[url.hostname])
    assert url.hostname == "prometheus"


def test_grafana_has_no_default_password() -> None:
    env = compose()["services"]["grafana"]["environment"]
    password = env["GF_SECURITY_ADMIN_PASSWORD"]
    assert re.fullmatch(r"\$\{GRAFANA_ADMIN_PASSWORD:\?[^}]*\}", password), password
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    text = COMPOSE.read_text().lower()
    assert "admin_password: admin" not in text and "password=admin" not in text


def test_ports_are_loopback_only_and_valkey_has_a_password() -> None:
    s = compose()["services"]
    for name, svc in s.items():
        for p in svc.get("ports", []):
            assert str(p).startswith("127.0.0.1:"), f"{name} publishes {p} on every interface"
    valkey = s["valkey"]
    cmd = valkey["command"]
    password = cmd[cmd.index("--requirepass") + 1]
    assert re.fullmatch(r"\$\{VALKEY_PASSWORD:\?[^}]*\}", password), password
    assert valkey["environment"]["VALKEYCLI_AUTH"] == password
