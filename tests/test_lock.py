"""Reproducible installs (SPEC §14, issue 12): requirements.lock pins every Python package the
dev environment installs, exactly and with hashes, and covers every dependency pyproject.toml
declares; each Lambda layer's requirements.txt does the same for its requirements.in; the
README's commands install from the lock (and this environment is what it pins); the playground
is built with `npm ci`. After changing a dependency: ./scripts/lock."""

from __future__ import annotations

import importlib.metadata
import json
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
LAYERS = ("boltq_core", "tracing")
HINT = "run ./scripts/lock"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def parse_lock(path: Path) -> dict[str, tuple[Version, list[str], str | None]]:
    """{name: (version, hashes, marker)}; fails on any entry that is not `name==version` with
    at least one sha256 hash."""
    out: dict[str, tuple[Version, list[str], str | None]] = {}
    entries = re.split(r"\n(?=\S)", path.read_text())
    for entry in entries:
        lines = [ln for ln in entry.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        if not lines:
            continue
        m = _PIN.match(lines[0].strip())
        assert m, f"{path.name}: not an exact pin: {lines[0]!r} ({HINT})"
        hashes = [h for ln in lines[1:] for h in re.findall(r"--hash=sha256:([0-9a-f]{64})", ln)]
        assert hashes, f"{path.name}: {m.group(1)} has no hash ({HINT})"
        assert all(ln.strip().startswith("--hash=sha256:") for ln in lines[1:]), entry
        name = canonicalize_name(m.group(1))
        assert name not in out, f"{path.name}: {name} twice"
        out[name] = (Version(m.group(2)), hashes, m.group(3))
    return out


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def dev_requirements() -> list[Requirement]:
    """pyproject's dependencies and every extra the dev extra pulls in (boltq[local], ...)."""
    project = pyproject()["project"]
    extras = project["optional-dependencies"]
    out = [Requirement(r) for r in project["dependencies"]]
    todo, seen = ["dev"], set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for raw in extras[extra]:
            req = Requirement(raw)
            if canonicalize_name(req.name) == "boltq":
                todo.extend(req.extras)
            else:
                out.append(req)
    return out


def in_file(path: Path) -> list[Requirement]:
    return [Requirement(ln.split("#")[0].strip()) for ln in path.read_text().splitlines()
            if ln.split("#")[0].strip()]


def assert_covers(lock: dict[str, tuple[Version, list[str], str | None]],
                  reqs: list[Requirement], where: str) -> None:
    for req in reqs:
        if req.marker is not None and not req.marker.evaluate():
            continue
        name = canonicalize_name(req.name)
        assert name in lock, f"{req} ({where}) is not in the lock: {HINT}"
        version = lock[name][0]
        assert req.specifier.contains(version, prereleases=True), (
            f"{where} asks {req}, the lock pins {version}: {HINT}")
        for extra in req.extras:  # e.g. redis[hiredis]: hiredis must be locked as well
            dist = importlib.metadata.distribution(req.name)
            for dep in map(Requirement, dist.requires or []):
                if dep.marker is not None and dep.marker.evaluate({"extra": extra}) and \
                        not dep.marker.evaluate({"extra": ""}):
                    assert canonicalize_name(dep.name) in lock, f"{dep} of {req}: {HINT}"


def test_every_lock_entry_is_pinned_and_hashed() -> None:
    for path in (LOCK, *(ROOT / "layers" / n / "requirements.txt" for n in LAYERS)):
        entries = parse_lock(path)
        assert len(entries) >= 5, path
        assert "-e " not in path.read_text() and "git+" not in path.read_text()


def test_the_lock_covers_pyproject() -> None:
    lock = parse_lock(LOCK)
    assert_covers(lock, dev_requirements(), "pyproject.toml")
    # BoltQ is built from the checkout without build isolation: its backend is locked too
    assert_covers(lock, [Requirement(r) for r in pyproject()["build-system"]["requires"]],
                  "[build-system]")
    assert "pip" in lock


def test_the_parser_refuses_what_is_not_locked(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("redis>=6.0 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    with pytest.raises(AssertionError, match="exact pin"):
        parse_lock(bad)
    bad.write_text("redis==8.1.0\n")
    with pytest.raises(AssertionError, match="no hash"):
        parse_lock(bad)
    lock = parse_lock(LOCK)
    with pytest.raises(AssertionError, match="not in the lock"):
        assert_covers(lock, [Requirement("leftpad>=1")], "test")
    with pytest.raises(AssertionError, match="the lock pins"):
        assert_covers(lock, [Requirement("redis>=999")], "test")


@pytest.mark.parametrize("layer", LAYERS)
def test_each_layer_is_locked_exactly(layer: str) -> None:
    folder = ROOT / "layers" / layer
    lock = parse_lock(folder / "requirements.txt")
    wanted = in_file(folder / "requirements.in")
    assert_covers(lock, wanted, f"layers/{layer}/requirements.in")
    # the layer asks no less than pyproject does of the same package
    mins = {canonicalize_name(r.name): r.specifier for r in dev_requirements()}
    for req in wanted:
        assert str(req.specifier) == str(mins[canonicalize_name(req.name)]), (
            f"layers/{layer}/requirements.in: {req} but pyproject.toml says "
            f"{mins[canonicalize_name(req.name)]}")


def test_minimum_versions_are_past_known_cves() -> None:
    reqs = {canonicalize_name(r.name): r.specifier for r in dev_requirements()}
    for name, too_old in (("redis", "6.1.0"),  # no TLS host name check by default (async 6.1)
                          ("aiohttp", "3.12.13"),  # CVE-2025-53643 request smuggling
                          ("pydantic", "2.3.0")):  # CVE-2024-3772 regex DoS
        assert not reqs[name].contains(too_old), f"{name}{reqs[name]} allows {too_old}"
    build = [Requirement(r) for r in pyproject()["build-system"]["requires"]]
    assert not build[0].specifier.contains("78.1.0")  # CVE-2025-47273


def test_this_environment_is_what_the_lock_pins() -> None:
    """./scripts/test installed from the lock: every package it pins for this platform is
    installed at exactly that version."""
    wrong = []
    for name, (version, _, marker) in parse_lock(LOCK).items():
        if marker is not None and not Requirement(f"x; {marker}").marker.evaluate():
            continue
        try:
            got = Version(importlib.metadata.version(name))
        except importlib.metadata.PackageNotFoundError:
            wrong.append(f"{name} missing")
            continue
        if got != version:
            wrong.append(f"{name} {got} != {version}")
    assert not wrong, wrong


def test_the_readme_commands_install_from_the_lock() -> None:
    boot = (ROOT / "scripts" / "_bootstrap.sh").read_text()
    assert 'pip install -q --require-hashes -r "$LOCK"' in boot
    assert "--no-deps --no-build-isolation -e" in boot
    assert "requirements.lock" in boot and "pyproject.toml" in boot
    assert "pip install -q -e" not in boot and "--upgrade pip" not in boot
    lock_script = (ROOT / "scripts" / "lock").read_text()
    assert "--generate-hashes" in lock_script
    for path in ("requirements.lock", *(f"layers/{n}/requirements.txt" for n in LAYERS)):
        assert (ROOT / path).read_text().startswith("# Generated by ./scripts/lock"), path


def test_the_playground_is_built_with_npm_ci() -> None:
    for path in [*(ROOT / "local" / "boltq_local").glob("*.py"), *(ROOT / "scripts").iterdir(),
                 ROOT / "README.md"]:
        if path.is_file():
            text = path.read_text()
            assert not re.search(r"npm(\"\s*,\s*\"|\s+)install", text), path
            assert '"install", "--no-audit"' not in text, path
    assert (ROOT / "playground" / "package-lock.json").is_file()


def test_the_peers_bench_is_locked_apart() -> None:
    """bench/peers.py's huey comes from its own hashed lock, its redis-py and hiredis at BoltQ's
    pins; its BullMQ from an npm lock; neither is in BoltQ's own lock."""
    folder = ROOT / "bench" / "peers"
    peers = parse_lock(folder / "requirements.txt")
    assert_covers(peers, in_file(folder / "requirements.in"), "bench/peers/requirements.in")
    assert (folder / "requirements.txt").read_text().startswith("# Generated by ./scripts/lock")
    ours = parse_lock(LOCK)
    for name in ("redis", "hiredis"):
        assert peers[name][0] == ours[name][0], f"bench/peers pins another {name}: {HINT}"
    assert "huey" not in ours and "bullmq" not in ours
    npm_lock = json.loads((folder / "package-lock.json").read_text())
    wanted = json.loads((folder / "package.json").read_text())["dependencies"]["bullmq"]
    assert npm_lock["packages"]["node_modules/bullmq"]["version"] == wanted
