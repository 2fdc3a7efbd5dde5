"""The events stream's entries read as one event per change. A batching script writes a run of
like job events (same status, type and workflow, in a row) as one entry whose ids are
space-separated in 'ids' (lua/includes/common.lua emit); every reader gets those back as one
event per job, in order, each with the fields a single job's event has. The events of a run
share its entry's stream id, which is the cursor to read on from."""

from __future__ import annotations

from collections.abc import Iterable

Event = tuple[str, dict[str, str]]  # (stream id, fields: k, id, wf, st, ty, ts[, p])


def expand(entries: Iterable[Event]) -> list[Event]:
    out: list[Event] = []
    for eid, fields in entries:
        ids = fields.get("ids")
        if ids is None:
            out.append((eid, fields))
            continue
        rest = {k: v for k, v in fields.items() if k != "ids"}
        out += [(eid, {**rest, "id": i}) for i in ids.split(" ")]
    return out


def entries(events: Iterable[Event]) -> int:
    """How many stream entries `events` (as expand returns them) were read from: what a
    read's `count` limits."""
    n, last = 0, None
    for eid, _ in events:
        if eid != last:
            n, last = n + 1, eid
    return n
