"""The REST API's contract, end to end through a real `boltq dev` (with an API key set): bytes
that are not UTF-8 in a body, query string or path are a 400 naming the part, the OpenAPI
document's servers fit where it is served, and schemathesis (every check, coverage, fuzzing and
stateful phases) finds nothing the document and the API disagree on."""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.local.conftest import ROOT, DevProcess, running_dev

pytestmark = pytest.mark.slow

API_KEY = "contract-test-key-0123456789"


@pytest.fixture(scope="module")
def keyed_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevProcess]:
    with running_dev(tmp_path_factory.mktemp("boltq-contract"), {"BOLTQ_API_KEY": API_KEY}) as d:
        yield d


def raw_request(d: DevProcess, method: str, target: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
    """One request with its target and body sent byte for byte (no client-side quoting)."""
    conn = http.client.HTTPConnection("127.0.0.1", d.api_port, timeout=30)
    try:
        hdrs = {"x-api-key": API_KEY, **(headers or {})}
        if body is not None:
            hdrs.setdefault("Content-Type", "application/json")
        conn.request(method, target, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, json.loads(data) if data else None, dict(resp.getheaders())
    finally:
        conn.close()


NOT_UTF8 = [
    ("POST", "/api/v1/jobs", b'{"type": "echo", "data": {"k": "\xff"}}', "body: not valid UTF-8"),
    ("POST", "/api/v1/workflows", b'{"name": "\xc3\x28", "steps": [{"job_type": "echo"}]}',
     "body: not valid UTF-8"),
    ("POST", "/api/v1/dlq/requeue", b'{"job_ids": ["\xed\xa0\x80"]}', "body: not valid UTF-8"),
    ("POST", "/api/v1/jobs/batch", b'{"jobs": [{"type": "\x80"}]}', "body: not valid UTF-8"),
    ("POST", "/api/v1/jobs", b'{"type": "echo", "data": {"k": "\\udcff"}}',
     "data.k: not valid Unicode"),
    ("GET", "/api/v1/jobs?type=%FF", None, "query parameter 'type': not valid UTF-8"),
    ("GET", "/api/v1/jobs?status=pending&type=a%C3%28", None,
     "query parameter 'type': not valid UTF-8"),
    ("GET", "/api/v1/dlq?%FE=1", None, "query string: not valid UTF-8"),
    ("GET", "/api/v1/jobs/%FF", None, "path parameter 'job_id': not valid UTF-8"),
    ("DELETE", "/api/v1/workflows/ab%ED%A0%80", None,
     "path parameter 'workflow_id': not valid UTF-8"),
    ("POST", "/api/v1/dlq/%C0%AF/requeue", None, "path parameter 'job_id': not valid UTF-8"),
]


@pytest.mark.parametrize(("method", "target", "body", "words"), NOT_UTF8,
                         ids=[f"{m} {t} {w}" for m, t, _, w in NOT_UTF8])
def test_bytes_that_are_not_utf8_are_a_400_naming_the_part(
    keyed_dev: DevProcess, method: str, target: str, body: bytes | None, words: str,
) -> None:
    before = raw_request(keyed_dev, "GET", "/api/v1/queues/stats")[1]["data"]["totals"]
    status, reply, _ = raw_request(keyed_dev, method, target, body)
    assert status == 400, reply
    assert reply["success"] is False and words in reply["error"], reply
    after = raw_request(keyed_dev, "GET", "/api/v1/queues/stats")[1]["data"]["totals"]
    assert after == before


def test_utf8_in_path_and_query_still_works(keyed_dev: DevProcess) -> None:
    # a newline in a path parameter reaches the function too (aiohttp's own text 404 otherwise)
    status, reply, hdrs = raw_request(keyed_dev, "GET", "/api/v1/jobs/a%0Ab")
    assert status == 404 and hdrs["Content-Type"].startswith("application/json"), reply
    assert reply["success"] is False, reply
    status, reply, _ = raw_request(keyed_dev, "GET", "/api/v1/jobs/gr%C3%BC%C3%9Fe")
    assert status == 404 and "grüße" in reply["error"], reply
    status, reply, _ = raw_request(keyed_dev, "GET", "/api/v1/jobs?type=caf%C3%A9&limit=5")
    assert status == 400 and "type" in reply["error"], reply  # not a job type's characters
    status, reply, _ = raw_request(keyed_dev, "GET", "/api/v1/jobs?type=a.b%3Ac&limit=5")
    assert status == 200 and reply["data"]["items"] == [], reply


def test_openapi_servers_fit_boltq_dev(keyed_dev: DevProcess) -> None:
    status, doc, _ = raw_request(keyed_dev, "GET", "/api/v1/openapi.json", headers={})
    assert status == 200
    assert doc["servers"] == [{"url": "/"}]


# Every check schemathesis has (--checks all): the server never errs, status codes, content
# types, headers and bodies are the documented ones, schema-violating requests are refused and
# schema-valid ones accepted, deleted resources are gone, created ones readable, and auth is not
# ignored. A fixed seed and a bounded number of cases per operation keep it repeatable and
# about 20 s here.
SCHEMATHESIS_SEED = 20261201
SCHEMATHESIS_EXAMPLES = 60


def test_schemathesis_finds_nothing(keyed_dev: DevProcess, tmp_path: Any) -> None:
    cmd = [sys.executable, "-m", "schemathesis.cli", "run", f"{keyed_dev.url}/api/v1/openapi.json",
           "--url", keyed_dev.url, "--checks", "all",
           "--phases", "coverage,fuzzing,stateful",
           "--seed", str(SCHEMATHESIS_SEED), "--max-examples", str(SCHEMATHESIS_EXAMPLES),
           "--header", f"x-api-key: {API_KEY}", "--generation-database", "none",
           "--workers", "1", "--request-timeout", "10", "--no-color",
           "--report", "junit", "--report-junit-path", str(tmp_path / "junit.xml")]
    # the hooks repair positive workflow and run_at bodies the schema cannot constrain (see there)
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.local.schemathesis_hooks",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    started = time.monotonic()
    # run in tmp_path: schemathesis keeps a cache folder (.schemathesis) in its working directory
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    took = time.monotonic() - started
    report = out.stdout + out.stderr
    assert out.returncode == 0, f"schemathesis failed ({took:.0f} s):\n{report[-20000:]}"
    counts = re.search(r"(\d+) generated, (\d+) passed", report)
    assert counts, report[-3000:]
    generated, passed = map(int, counts.groups())
    assert generated == passed and generated > 37 * 20, report[-3000:]
    for phase in ("Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in report, report[-3000:]
    assert "37 selected / 37 total" in report  # every documented route was tested
