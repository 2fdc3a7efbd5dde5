"""Cold-start import time of each Lambda function: a fresh interpreter imports
functions/<name>/app.py (as Lambda's runtime does on a cold start), `--runs` times per function.

Reports the median wall time of the import (perf_counter around `import app`) and the total that
`python -X importtime` attributes to it, and the heaviest modules of the api function, into
bench/coldstart.md. Budget: the api function's median import is at most 200 ms (issue 15).

    .venv/bin/python bench/coldstart.py [--runs 7] [--out bench/coldstart.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ("api", "ws", "promoter", "poller", "worker")
API_BUDGET_MS = 200.0
PROBE = (
    "import time; t = time.perf_counter(); import app; "
    "print((time.perf_counter() - t) * 1000)"
)

# the libraries every api request needs, imported alone (the garbage collector off, as the api
# has it): Powertools' logger and REST resolver with its validation, pydantic, redis-py. The api's
# median less this is what BoltQ's own modules and the app's routes cost.
FLOOR_PROBE = (
    "import time; t = time.perf_counter(); import gc; gc.disable(); "
    "from aws_lambda_powertools import Logger; "
    "from aws_lambda_powertools.event_handler import APIGatewayRestResolver; "
    "import aws_lambda_powertools.event_handler.middlewares.openapi_validation; "
    "import pydantic.main, redis; "
    "print((time.perf_counter() - t) * 1000)"
)


LAYER_VENV = ROOT / "bench" / "out" / "layer-venv"


def layer_python() -> str:
    """A Python that holds only what the deployed layer holds (layers/boltq_core/
    requirements.txt, plus boto3 which the Lambda runtime provides), so optional packages in
    the dev venv (e.g. the OpenTelemetry SDK, which redis-py instruments itself with when it
    finds it) do not inflate the figures. Made on first use."""
    py = LAYER_VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(LAYER_VENV)], check=True)
        # the layer's requirements.txt pins with hashes, so boto3 (not in it) goes in apart
        subprocess.run([str(py), "-m", "pip", "install", "-q", "--require-hashes", "-r",
                        str(ROOT / "layers" / "boltq_core" / "requirements.txt")], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "boto3"], check=True)
    return str(py)


PYTHON = sys.executable  # set by main()


def env() -> dict[str, str]:
    e = dict(os.environ)
    e.update(AWS_DEFAULT_REGION="us-east-1", PYTHONDONTWRITEBYTECODE="0",
             POWERTOOLS_SERVICE_NAME="coldstart")
    e["PYTHONPATH"] = str(ROOT / "layers" / "boltq_core")
    return e


def wall_ms(name: str, probe: str = PROBE) -> float:
    out = subprocess.run([PYTHON, "-c", probe], cwd=ROOT / "functions" / name,
                         env=env(), capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def importtime(name: str) -> tuple[float, list[tuple[float, str]]]:
    """(ms importtime attributes to `app`, [(cumulative ms, module)] of app's children)."""
    out = subprocess.run([PYTHON, "-X", "importtime", "-c", "import app"],
                         cwd=ROOT / "functions" / name, env=env(), capture_output=True,
                         text=True, check=True)
    total = 0.0
    mods: list[tuple[float, str]] = []
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cum, mod = line.split("|")
        if not cum.strip().isdigit():
            continue
        ms = int(cum) / 1000
        depth = (len(mod) - len(mod.lstrip(" "))) // 2
        if mod.strip() == "app":
            total = ms
        elif depth == 1:
            mods.append((ms, mod.strip()))
    return total, sorted(mods, reverse=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--out", default=str(ROOT / "bench" / "coldstart.md"))
    ap.add_argument("--python", help="interpreter to measure with (default: a venv holding "
                    "only the layer's requirements, made under bench/out/)")
    args = ap.parse_args()
    global PYTHON
    PYTHON = args.python or layer_python()

    for name in FUNCTIONS:  # warm the bytecode cache: Lambda ships compiled .pyc as well
        wall_ms(name)
    rows = []
    api_top: list[tuple[float, str]] = []
    for name in FUNCTIONS:
        walls = [wall_ms(name) for _ in range(args.runs)]
        it_runs = [importtime(name) for _ in range(3)]
        it = statistics.median(t for t, _ in it_runs)
        if name == "api":
            api_top = it_runs[0][1][:8]
        rows.append((name, statistics.median(walls), min(walls), max(walls), it))
        print(f"{name:9s} median {rows[-1][1]:6.1f} ms  (min {min(walls):.1f}, "
              f"max {max(walls):.1f}; -X importtime {it:.1f} ms)")

    floor = statistics.median(wall_ms("api", FLOOR_PROBE) for _ in range(args.runs))
    print(f"libraries the api needs, alone: median {floor:.1f} ms")
    api_median = next(r[1] for r in rows if r[0] == "api")
    verdict = "within" if api_median <= API_BUDGET_MS else "OVER"
    lines = [
        "# Cold-start import time of the Lambda functions",
        "",
        f"Measured by `bench/coldstart.py` on {time.strftime('%Y-%m-%d')}, "
        f"Python {platform.python_version()} on {platform.machine()} "
        f"({os.cpu_count()} CPUs), {args.runs} fresh interpreters per function.",
        "Each run imports `functions/<name>/app.py` with the layer on PYTHONPATH, in a venv that "
        "holds only the layer's requirements (plus boto3), as Lambda's",
        "runtime does on a cold start (bytecode already compiled, as in the deployed package).",
        "",
        "| function | median ms | min ms | max ms | `-X importtime` ms |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [f"| {n} | {m:.1f} | {lo:.1f} | {hi:.1f} | {it:.1f} |"
              for n, m, lo, hi, it in rows]
    lines += [
        "",
        f"Budget: the api function imports in at most {API_BUDGET_MS:.0f} ms — median "
        f"{api_median:.1f} ms, {verdict} budget. The libraries every api request needs "
        f"(Powertools' logger and",
        f"REST resolver with validation, pydantic, redis-py), imported alone: median "
        f"{floor:.1f} ms; BoltQ's modules and the",
        "app's routes are the rest.",
        "",
        "What the api import spends its time on (`-X importtime`, cumulative, top level):",
        "",
        "| ms | module |",
        "|---:|---|",
    ]
    lines += [f"| {ms:.1f} | `{mod}` |" for ms, mod in api_top]
    lines += [
        "",
        "Kept off the cold start: Powertools' OpenAPI models (~100 ms; built on the first",
        "request to `/api/v1/openapi.json` or `/api/v1/docs`), `Query()` parameter models, boto3",
        "(ws/api never load it; poller and promoter load it on first use), the runner and the",
        "processors (`boltq_core`'s names load on first use), the validators of the request and",
        "reply models (`defer_build`: built on first use), and the garbage collector's passes",
        "(off while the api's modules load, which are then frozen). With the `SnapStart`",
        "parameter a restored api skips the import and builds those validators and the OpenAPI",
        "document before the snapshot.",
        "",
    ]
    Path(args.out).write_text("\n".join(lines))
    print(f"wrote {args.out}")
    return 0 if api_median <= API_BUDGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
