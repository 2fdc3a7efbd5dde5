"""promoter: on an EventBridge schedule (once a minute in AWS). Until shortly before its timeout
(PROMOTER_STOP_BEFORE_SECONDS) it promotes due delayed and retrying jobs and recovers expired
leases at the moment they fall due, and pushes status changes to WebSocket subscribers and the
metrics to the Pushgateway, under the namespace's promoter lock
(boltq_core.duties.promotion.promote_until). Here: the deadline, and once per container a
warning when the store could evict BoltQ's keys."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger

from boltq_core.duties.promotion import promote_until
from boltq_core.jobs.queue import shared_queue
from boltq_core.observability.counters import count_invocation
from boltq_core.observability.pushgateway import pusher_from_settings
from boltq_core.store.connect import eviction_warning

logger = Logger(service="boltq-promoter")
_checked: list[bool] = []  # the store's eviction policy was checked by this container


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    q = shared_queue()
    deadline = (time.monotonic() + context.get_remaining_time_in_millis() / 1000
                - q.settings.promoter_stop_before_seconds)
    count_invocation(q.redis, q.keys, "promoter")
    if not _checked:
        _checked.append(True)
        warning = eviction_warning(q.redis)
        if warning:
            logger.warning(warning)
    totals = promote_until(q, deadline, metrics=pusher_from_settings(q, logger))
    logger.info("promoter pass finished", extra=totals)
    return totals
