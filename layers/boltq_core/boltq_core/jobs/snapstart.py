"""Lambda SnapStart: the runtime hooks of a function restored from a snapshot.

A snapshot is taken once its init has run, and every execution environment is then resumed
from it: the store connections the init opened are dead there (the sockets were copied, the
store's side of them was not), and `random` would hand every environment the same numbers.
`register(warm)` asks the Lambda runtime to run, after each restore, `after_restore` (the shared
queue's connections closed, so the next request opens fresh ones; `random` seeded again) and,
before the snapshot, `before_snapshot` (the function's own `warm`, which loads what its first
requests would, then no connection left open to be copied).

`snapshot_restore_py` is AWS's, in the Lambda Python runtimes (3.12+) only: where it is missing
(tests, `boltq dev`, a runtime without SnapStart) nothing is registered and nothing changes."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable

from boltq_core.errors import BoltQError
from boltq_core.jobs.queue import shared_queue
from boltq_core.store.connect import disconnect

log = logging.getLogger(__name__)


def close_connections() -> None:
    """Close the shared queue's store connections; its client opens new ones on its next
    command. Never raises: neither a snapshot nor a restore must fail over this."""
    try:
        disconnect(shared_queue().redis)
    except BoltQError:
        pass  # bad settings: there is no client, and the first request says why
    except Exception:  # closing a dead socket may complain; the next command reconnects anyway
        log.warning("closing the store connections failed", exc_info=True)


def after_restore() -> None:
    """Run after each restore: fresh store connections on the next request, `random` seeded
    from the OS again (not the snapshot's state, shared by every restored environment)."""
    random.seed()
    close_connections()


def before_snapshot(warm: Callable[[], None] | None = None) -> None:
    """Run before the snapshot: `warm` (a failure is logged, the snapshot is still taken), then
    no store connection is left open to be copied into it."""
    if warm is not None:
        try:
            warm()
        except Exception:
            log.warning("warming before the snapshot failed", exc_info=True)
    close_connections()


def register(warm: Callable[[], None] | None = None) -> bool:
    """Register `after_restore`, and `before_snapshot` with `warm`, with the Lambda runtime;
    False where there is no SnapStart runtime to register with."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:
        return False
    register_before_snapshot(before_snapshot, warm)
    register_after_restore(after_restore)
    return True
