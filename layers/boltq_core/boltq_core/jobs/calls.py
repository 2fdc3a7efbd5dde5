"""The script calls of one namespace, free of I/O: each builds the call (KEYS and ARGV) and
parses the reply, so the sync Queue and the asyncio AsyncQueue share them; and the checks a
job passes before it is stored (validation, payload and timeout caps, paging)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from pydantic import TypeAdapter, ValidationError

from boltq_core.config import Settings
from boltq_core.errors import InvalidInput, invalid_input, validation_message
from boltq_core.jobs.models import JobSpec, JobStatus, encode_data, to_epoch_ms
from boltq_core.jobs.scripts import share_prefix
from boltq_core.keys import DEFAULT_QUEUE, Keys, in_queue, is_queue_name


@dataclass(slots=True)
class Call:
    script: str
    keys: list[str]
    args: list[Any]


# tuples, not frozen dataclasses: a bulk makes one of each per job, and a frozen dataclass
# costs a setattr call per field
class Submitted(NamedTuple):
    job_id: str
    status: str
    duplicate: bool


class Prepared(NamedTuple):
    """A job checked and encoded for the submit script."""

    job_id: str
    type: str
    data: str
    meta: str
    idem: str
    trace: str


# a claim's reply: (next wake ms, drain, the claimed jobs' hashes); running.attempt builds
# ClaimReply / Claimed from it
RawClaim = tuple[int, bool, list[dict[str, str]]]


class Wire(Protocol):
    """An attempt's outcome as the finish script takes it (running.attempt.Outcome)."""

    job_id: str

    def wire(self) -> Sequence[Any]: ...


class _Entropy:
    """os.urandom bytes read 4 KiB at a time: a single submit's id costs no system call of its
    own. A forked child starts with none, so it never hands out its parent's."""

    def __init__(self) -> None:
        self.buf, self.at = b"", 0
        self.lock = threading.Lock()
        os.register_at_fork(after_in_child=self.forget)

    def forget(self) -> None:
        self.buf, self.at = b"", 0
        self.lock = threading.Lock()

    def take(self, n: int) -> bytes:
        if n > 1024:
            return os.urandom(n)
        with self.lock:
            if self.at + n > len(self.buf):
                self.buf, self.at = os.urandom(4096), 0
            out = self.buf[self.at : self.at + n]
            self.at += n
        return out


_entropy = _Entropy()


def new_ids(n: int) -> list[str]:
    """n random (version 4) UUID strings, from one read of random bytes: uuid.uuid4() per job
    costs more than the rest of building a bulk submit."""
    raw = bytearray(_entropy.take(16 * n))
    out = []
    for i in range(0, 16 * n, 16):
        raw[i + 6] = (raw[i + 6] & 0x0F) | 0x40  # version 4
        raw[i + 8] = (raw[i + 8] & 0x3F) | 0x80  # RFC 4122 variant
        h = raw[i : i + 16].hex()
        out.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return out


def pairs(flat: Sequence[str]) -> dict[str, str]:
    it = iter(flat)
    return dict(zip(it, it, strict=True))


def invalid(exc: ValidationError, where: str = "") -> InvalidInput:
    """A pydantic ValidationError as an InvalidInput naming each field (jobs[1].priority)."""
    details = []
    for err in exc.errors():
        loc = where
        for part in err["loc"]:
            if isinstance(part, int):
                loc += f"jobs[{part}]" if not loc else f"[{part}]"
            else:
                loc += ("." if loc and not loc.endswith(".") else "") + str(part)
        details.append({"field": loc or "body", "message": validation_message(err)})
    return invalid_input(details)


# the job hash fields a summary shows, status and type first (list_jobs.lua filters on them)
SUMMARY_FIELDS = ("status", "type", "id", "priority", "attempts", "max_attempts", "timeout",
                  "created", "scheduled", "started", "finished", "err_cat", "err_msg", "progress",
                  "wf", "step", "idem", "cancel", "requeued", "sched", "sfor", "group")
MAX_PROGRESS_BYTES = 16384  # a progress report's JSON size cap
MAX_PAGE = 100  # list routes' largest page: a page of summaries stays far below 6 MB


def check_queue_name(name: str, field: str = "queue") -> str:
    """A queue name as SPEC §11 allows it, or InvalidInput naming `field`."""
    if not isinstance(name, str) or not is_queue_name(name):
        raise InvalidInput(f"{field}: a queue name is 1 to 64 letters, digits, '_', '.' or '-';"
                           f" got {name!r}", [{"field": field}])
    return name


def check_page(limit: int, cursor: str | None) -> None:
    """The paging arguments every list takes: 1 <= limit <= MAX_PAGE, a numeric cursor."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit: must be between 1 and {MAX_PAGE}", [{"field": "limit"}])
    if cursor is not None and not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 20):
        raise InvalidInput("cursor: not a cursor returned by this API", [{"field": "cursor"}])


_SPEC_LIST = TypeAdapter(list[JobSpec])
_SPEC = TypeAdapter(JobSpec)


def parse_specs(items: Iterable[JobSpec | dict[str, Any]]) -> list[JobSpec]:
    """Validate jobs to submit; one pydantic call for the whole list (half the cost of one
    call per job). Errors name the job: jobs[3].priority."""
    items = list(items)
    if all(isinstance(i, JobSpec) for i in items):
        return items  # type: ignore[return-value]
    plain = [i.model_dump() if isinstance(i, JobSpec) else i for i in items]
    if len(plain) == 1 and isinstance(plain[0], dict):
        try:  # a single job: its fields named alone
            return [_SPEC.validate_python(plain[0])]
        except ValidationError as exc:
            raise invalid(exc) from None
    try:
        return _SPEC_LIST.validate_python(plain)
    except ValidationError as exc:
        err = invalid(exc)
        if len(items) == 1:  # a single job: name the field alone
            for d in err.details:
                d["field"] = d["field"].partition(".")[2] or d["field"]
            err = InvalidInput(err.message.partition(".")[2], err.details)
        raise err from None


class ScriptCalls:
    """Builds the script calls of one queue (its own hash tag) under one set of settings: each
    method returns the Call (script, KEYS, ARGV) and, where a reply needs it, its parser. No I/O:
    the sync Queue and the asyncio AsyncQueue share them."""

    LIST_SCAN_BUDGET = 2000

    def __init__(self, settings: Settings, queue: str = DEFAULT_QUEUE) -> None:
        self.settings = settings
        self.queue = queue
        self.keys = Keys(settings.key_prefix, queue)
        self._common = list(self.keys.common)
        self._cfg = [
            settings.retention_seconds * 1000,
            settings.events_max_length,
            settings.dlq_max_size,
            settings.metrics_max_types,
        ]
        share_prefix(self._common, self._cfg)

    def call(self, script: str, keys: Iterable[str] = (), args: Iterable[Any] = ()) -> Call:
        return Call(script, [*self._common, *keys], [*self._cfg, *args])

    # --- submit -----------------------------------------------------------------------------

    def check(self, specs: Sequence[JobSpec]) -> list[tuple[str, int]]:
        """Every job's encoded data and timeout, or InvalidInput for the first job over a cap:
        what all of a call's jobs pass before any of them is stored."""
        s = self.settings
        many = len(specs) > 1
        out = []
        for i, spec in enumerate(specs):
            where = f"jobs[{i}]." if many else ""
            out.append((encode_data(spec.data, s.max_payload_bytes, f"{where}data"),
                        s.job_timeout(spec.timeout_seconds, f"{where}timeout_seconds")))
        return out

    def prepare(
        self, specs: Sequence[JobSpec], traces: Sequence[str | None] | None = None,
        checked: Sequence[tuple[str, int]] | None = None,
    ) -> list[Prepared]:
        """Jobs checked (`checked`: check(specs), done already) and encoded for submit, with
        their ids. Raises before anything is stored."""
        if checked is None:
            checked = self.check(specs)
        default_attempts = self.settings.max_attempts
        ids = new_ids(len(specs))
        if self.queue != DEFAULT_QUEUE:
            ids = [in_queue(self.queue, i) for i in ids]
        out = []
        for i, spec in enumerate(specs):
            data, timeout = checked[i]
            run_at = max(1, to_epoch_ms(spec.run_at)) if spec.run_at else 0
            # the small numbers travel as one string: fewer arguments to encode per job
            meta = (
                f"{spec.priority}:{spec.max_attempts or default_attempts}:{timeout}:"
                f"{int(spec.delay_seconds * 1000)}:{run_at}"
            )
            if spec.group:
                meta += ":" + spec.group
            trace = (traces[i] if traces else None) or ""
            out.append(Prepared(ids[i], spec.type, data, meta, spec.idempotency_key or "", trace))
        return out

    def submit(
        self, prepared: Sequence[Prepared]
    ) -> tuple[Call, Callable[[Any], list[Submitted]]]:
        job_prefix = self.keys.named("job:")
        idem_prefix = self.keys.named("idem:")
        job_keys = [job_prefix + p.job_id for p in prepared]
        idem_keys = [idem_prefix + p.idem for p in prepared if p.idem]
        args: list[Any] = [len(prepared)]
        for p in prepared:
            args += [p.job_id, p.type, p.data, p.meta, p.idem, p.trace]

        def parse(reply: Any) -> list[Submitted]:
            return [Submitted(r[0], r[1], bool(int(r[2]))) for r in reply]

        return self.call("submit", [*job_keys, *idem_keys], args), parse

    # --- the worker's calls -----------------------------------------------------------------

    def claim(
        self, count: int, lease_s: float, max_timeout_s: float = 0, *, held: int = 0,
        runner: str = "", claim_id: str | None = None, limit: int = 1000, wait_ms: int = 0,
    ) -> tuple[Call, Callable[[Any], RawClaim]]:
        """A claim of up to `count` jobs by a runner holding `held`. The same `claim_id` sent
        again (its reply was lost) is answered with the jobs it leased the first time. With
        `wait_ms`, a claim that comes back short leaves the runner registered as waiting that
        long: a submit then hands it jobs (lua/includes/lease.lua)."""

        def parse(reply: Any) -> RawClaim:
            return int(reply[0]), reply[1] == 1, [pairs(j) for j in reply[2:]]

        args = [count, int(lease_s * 1000), int(max_timeout_s), limit, held, runner, wait_ms]
        return self.call("claim", [self.keys.claim(claim_id or new_ids(1)[0])], args), parse

    def unidle(self, runner: str) -> tuple[Call, Callable[[Any], list[dict[str, str]]]]:
        """The runner no longer waits here; the jobs handed to it meanwhile come back."""

        def parse(reply: Any) -> list[dict[str, str]]:
            return [pairs(j) for j in reply]

        return self.call("unidle", (), [runner]), parse

    def finish(self, outcomes: Sequence[Wire]) -> Call:
        args: list[Any] = [len(outcomes)]
        for o in outcomes:
            args += o.wire()
        return self.call("finish", [self.keys.job(o.job_id) for o in outcomes], args)

    def extend(self, held: Sequence[tuple[str, int]], lease_s: float) -> Call:
        args: list[Any] = [int(lease_s * 1000)]
        for job_id, attempt in held:
            args += [job_id, attempt]
        return self.call("extend", [self.keys.job(j) for j, _ in held], args)

    def progress(self, job_id: str, attempt: int, value: Any) -> Call:
        raw = json.dumps(value, separators=(",", ":"), default=str)
        if len(raw) > MAX_PROGRESS_BYTES // 4 and len(raw.encode()) > MAX_PROGRESS_BYTES:
            raise InvalidInput(f"progress is {len(raw.encode())} bytes; the limit is "
                               f"{MAX_PROGRESS_BYTES} (it travels with every status push)")
        return self.call("progress", [self.keys.job(job_id)], [job_id, attempt, raw])

    # --- management -------------------------------------------------------------------------

    def cancel(self, job_id: str) -> Call:
        return self.call("cancel", [self.keys.job(job_id)], [job_id])

    def promote(self, limit: int = 1000, janitor_limit: int = 1000) -> Call:
        return self.call("promote", (), [limit, janitor_limit])

    def dlq(self, mode: str, ids: Sequence[str] = (), limit: int = 1000) -> Call:
        return self.call("dlq", [self.keys.job(i) for i in ids], [mode, limit, *ids])

    def list_jobs(
        self, status: str | None, job_type: str | None, limit: int, cursor: str | None
    ) -> Call:
        if status is not None and status not in JobStatus.__members__.values():
            raise InvalidInput(
                f"status: must be one of {', '.join(JobStatus)}; got {status!r}",
                [{"field": "status"}],
            )
        check_page(limit, cursor)
        args = [cursor or "+inf", limit, status or "", self.LIST_SCAN_BUDGET, job_type or "",
                *SUMMARY_FIELDS]
        return self.call("list_jobs", (), args)
