"""Times as BoltQ stores and shows them: epoch milliseconds in the store (the scripts' clock),
ISO-8601 UTC with a "Z" in replies and messages."""

from __future__ import annotations

from datetime import UTC, datetime


def from_ms(ms: int | str | None) -> datetime | None:
    """An epoch-ms value from the store as an aware UTC datetime (None for none)."""
    return datetime.fromtimestamp(int(ms) / 1000, UTC) if ms else None


def iso(ms: int | str | None, timespec: str = "auto") -> str | None:
    """An epoch-ms value as ISO-8601 UTC, "…Z" (None for none)."""
    dt = from_ms(ms)
    return dt.isoformat(timespec=timespec).replace("+00:00", "Z") if dt else None


def now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)
