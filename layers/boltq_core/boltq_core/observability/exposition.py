"""The Prometheus text exposition format (0.0.4) of metric families (snapshot.Family), written
here: the Lambda layer does not ship prometheus_client."""

from __future__ import annotations

from collections.abc import Sequence

from boltq_core.observability.snapshot import Family


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _num(v: float) -> str:
    if isinstance(v, int) or float(v).is_integer():
        return str(int(v))
    return repr(float(v))


def render(families: Sequence[Family]) -> str:
    """The Prometheus text exposition format (0.0.4)."""
    out = []
    for f in families:
        name = f.name + "_total" if f.kind == "counter" else f.name
        out.append(f"# HELP {name} {f.help}")
        out.append(f"# TYPE {name} {f.kind}")
        for suffix, labels, value in f.samples:
            lbl = ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items())
            sname = name if f.kind == "counter" else f.name + suffix
            out.append(f"{sname}{{{lbl}}} {_num(value)}" if lbl else f"{sname} {_num(value)}")
    return "\n".join(out) + "\n"
