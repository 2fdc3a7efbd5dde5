"""When a schedule's occurrences fall (SPEC §12): a cron expression (croniter) in an IANA time
zone (zoneinfo), or a fixed period. Times are epoch milliseconds, UTC.

DST: croniter walks the zone's wall clock. A wall time that a spring-forward skips runs once,
at the first moment after the gap (croniter's answer); a wall time that a fall-back repeats
runs once, on its first pass - unless the cron's hour field is a wildcard (`*`, `*/2`), whose
jobs follow real time through the repeated hour (cron's own rule for hourly jobs)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_PERIOD_SECONDS = 366 * 86400
_SEARCH = 4000  # candidates looked at for one step (a repeated hour skips up to 3600)


def _croniter() -> Any:
    """croniter, imported on first use: off the api function's cold start."""
    import croniter

    return croniter


class BadRecurrence(ValueError):
    """A cron expression or time zone that cannot be used; the message says why."""


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # a folder is an OSError
        raise BadRecurrence(f"unknown IANA time zone {name!r}") from exc


def check_cron(expr: str) -> str:
    """A cron expression of 5 fields, or 6 with seconds first; BadRecurrence otherwise."""
    fields = expr.split()
    if len(fields) not in (5, 6):
        raise BadRecurrence(f"must have 5 fields (minute hour day month weekday), or 6 with "
                            f"seconds first; got {len(fields)}")
    c = _croniter()
    try:
        c.croniter(" ".join(fields), second_at_beginning=True)
    except Exception as exc:  # croniter's refusals are several types (ValueError, KeyError...)
        raise BadRecurrence(f"not a valid cron expression: {exc}") from None
    return " ".join(fields)


@dataclass(frozen=True)
class Recurrence:
    """Occurrences of a cron expression in `tz`, or every `period_ms` from `anchor_ms`."""

    cron: str | None
    tz: str = "UTC"
    period_ms: int = 0
    anchor_ms: int = 0

    @cached_property
    def _zone(self) -> ZoneInfo:
        return zone(self.tz)

    @cached_property
    def _hour_wildcard(self) -> bool:
        fields = (self.cron or "").split()
        hour = fields[2] if len(fields) == 6 else fields[1] if fields else ""
        return hour.startswith("*")

    def next_after(self, t_ms: int) -> int:
        """The first occurrence strictly after `t_ms`; BadRecurrence when a cron never
        matches again."""
        if self.cron is None:
            if t_ms < self.anchor_ms:
                return self.anchor_ms
            steps = (t_ms - self.anchor_ms) // self.period_ms + 1
            return self.anchor_ms + steps * self.period_ms
        c = _croniter()
        try:
            start = datetime.fromtimestamp(t_ms / 1000, UTC).astimezone(self._zone)
            it = c.croniter(self.cron, start, second_at_beginning=True)
            for _ in range(_SEARCH):
                when: datetime = it.get_next(datetime)
                ms = int(when.timestamp() * 1000)
                if ms > t_ms and not self._second_pass(when):
                    return ms
        except (c.CroniterBadDateError, OverflowError, OSError, ValueError):
            pass  # no date left in croniter's (or datetime's) range
        raise BadRecurrence("the cron expression matches no date from there")

    def _second_pass(self, when: datetime) -> bool:
        """A wall time the fall-back repeats, on its second pass (skipped but for hourly
        wildcards, see above)."""
        if self._hour_wildcard:
            return False
        wall = when.replace(tzinfo=None)
        first = wall.replace(tzinfo=self._zone, fold=0)
        return first.timestamp() < when.timestamp()

    def latest_until(self, due_ms: int, now_ms: int) -> int:
        """The latest occurrence from `due_ms` (itself one) up to `now_ms`: what catch_up
        `one` and `skip` look at after a downtime."""
        if self.next_after(due_ms) > now_ms:
            return due_ms  # the usual case: nothing was missed
        if self.cron is None:
            return self.anchor_ms + (now_ms - self.anchor_ms) // self.period_ms * self.period_ms
        try:
            end = datetime.fromtimestamp(now_ms / 1000, UTC).astimezone(self._zone)
            it = _croniter().croniter(self.cron, end, second_at_beginning=True)
            for _ in range(_SEARCH):
                when: datetime = it.get_prev(datetime)
                ms = int(when.timestamp() * 1000)
                if ms <= now_ms and not self._second_pass(when):
                    return max(due_ms, ms)
        except Exception:  # out of croniter's range: the due one stands for them
            return due_ms
        return due_ms
