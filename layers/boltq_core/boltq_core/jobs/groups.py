"""Groups (SPEC §13): the limits of a queue's groups and the list of its groups. Fair share and
the limits themselves are kept inside the claim (lua/includes/groups.lua); this module sets the
limits and reads the groups back."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from boltq_core.errors import InvalidInput
from boltq_core.jobs.calls import MAX_PAGE, invalid
from boltq_core.jobs.models import GROUP_PATTERN
from boltq_core.jobs.queue import Page, Queue
from boltq_core.timefmt import from_ms

_GROUP = re.compile(GROUP_PATTERN)
MAX_CONCURRENCY = 100_000
MAX_RATE = 1_000_000
MAX_RATE_SECONDS = 86_400


class GroupRate(BaseModel):
    """At most `max` starts of a group in any window of `per_seconds` (retries count)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    max: int = Field(ge=1, le=MAX_RATE)
    per_seconds: float = Field(gt=0, le=MAX_RATE_SECONDS)

    @field_validator("per_seconds")
    @classmethod
    def _whole_ms(cls, v: float) -> float:
        if not math.isfinite(v) or round(v * 1000) < 1:
            raise ValueError("must be at least 0.001 seconds")
        return v


class GroupLimits(BaseModel):
    """A queue's default limits for each of its groups, or one group's own (which replace the
    default whole: a null there means no such limit for that group)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    group_concurrency: int | None = Field(None, ge=1, le=MAX_CONCURRENCY)
    group_rate: GroupRate | None = None

    def wire(self) -> str:
        """The form the scripts keep: "<concurrency>|<rate max>|<rate per ms>"."""
        c = "" if self.group_concurrency is None else str(self.group_concurrency)
        r = self.group_rate
        if r is None:
            return f"{c}||"
        return f"{c}|{r.max}|{round(r.per_seconds * 1000)}"

    @classmethod
    def from_wire(cls, raw: str | None) -> GroupLimits | None:
        if not raw:
            return None
        c, m, per = raw.split("|")
        rate = GroupRate(max=int(m), per_seconds=int(per) / 1000) if m else None
        return cls(group_concurrency=int(c) if c else None, group_rate=rate)

    def public(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class GroupInfo(BaseModel):
    """One group as GET /api/v1/queues/{queue}/groups lists it."""

    model_config = ConfigDict(defer_build=True)

    name: str
    ready: int
    running: int
    limited: bool  # a limit holds it back now
    limited_until: datetime | None  # when it may start again (None while held by concurrency:
    #                                 until one of its running jobs ends)
    limits: GroupLimits | None  # the limits that apply to it (None: none)
    own_limits: bool  # its limits are its own, not the queue's default

    def public(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def check_group(name: Any, field: str = "group") -> str:
    if not isinstance(name, str) or not _GROUP.match(name):
        raise InvalidInput(f"{field}: a group is 1 to 128 letters, digits or any of _.:@/-;"
                           f" got {name!r}", [{"field": field}])
    return name


def parse_limits(body: GroupLimits | dict[str, Any] | None) -> GroupLimits:
    if isinstance(body, GroupLimits):
        return body
    if not isinstance(body, dict):
        raise InvalidInput("body: must be a JSON object", [{"field": "body"}])
    try:
        return GroupLimits.model_validate(body)
    except ValidationError as exc:
        raise invalid(exc) from None


class Groups:
    """The limits and the groups of one queue."""

    def __init__(self, queue: Queue) -> None:
        self.queue = queue

    def _set(self, whose: str, group: str, wire: str) -> None:
        if self.queue.name != "default":
            self.queue.register()
        self.queue.run(self.queue.calls.call("group_limits", (), [whose, group, wire]))

    def limits(self) -> GroupLimits | None:
        """The queue's default limits (None: none)."""
        k = self.queue.keys
        raw = self.queue.read(lambda: self.queue.redis.hget(k.group_state, "limits"), "limits")
        return GroupLimits.from_wire(raw)

    def set_limits(self, body: GroupLimits | dict[str, Any]) -> GroupLimits:
        """Set the queue's default limits for each group; both null clears them."""
        limits = parse_limits(body)
        empty = limits.group_concurrency is None and limits.group_rate is None
        self._set("queue", "", "" if empty else limits.wire())
        return limits

    def set_group_limits(self, group: str, body: GroupLimits | dict[str, Any]) -> GroupLimits:
        """Give one group limits of its own (they replace the queue's default whole)."""
        check_group(group)
        limits = parse_limits(body)
        self._set("group", group, limits.wire())
        return limits

    def clear_group_limits(self, group: str) -> None:
        """The group follows the queue's default limits again."""
        check_group(group)
        self._set("group", group, "")

    def list(self, limit: int = 50, cursor: str | None = None) -> Page:
        """A page of the named groups with jobs ready or running or limits of their own, by
        name; `cursor` is the last name of the page before."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit: must be between 1 and {MAX_PAGE}", [{"field": "limit"}])
        if cursor is not None:
            check_group(cursor, "cursor")
        reply = self.queue.run(self.queue.calls.call("list_groups", (), [cursor or "", limit]))
        default = GroupLimits.from_wire(reply[0])
        items = []
        for i in range(1, len(reply), 6):
            name, ready, running, held, own, has_own = reply[i:i + 6]
            items.append(GroupInfo(
                name=name, ready=int(ready), running=int(running), limited=held != "",
                limited_until=from_ms(held) if held not in ("", "inf") else None,
                limits=GroupLimits.from_wire(own) if int(has_own) else default,
                own_limits=bool(int(has_own))))
        return Page(items, items[-1].name if len(items) == limit else None)
