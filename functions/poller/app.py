"""poller: on a schedule (once a minute in AWS), it loops until shortly before its timeout
(POLLER_STOP_BEFORE_SECONDS), blocked on the namespace's events stream, and starts the worker
invocations the backlog needs with lambda:Invoke (InvocationType=Event) - one per
JOBS_PER_WORKER ready jobs, at most NUM_WORKERS counting the live ones, and for a queue with a
max_workers setting at most that many for its backlog (boltq_core.duties.fleet.scale_until).
Here: the Lambda client and the deadline. LAMBDA_ENDPOINT_URL points boto3 at the local
runtime; it is unset in AWS. WORKER_FUNCTION_NAME names the worker function."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger

from boltq_core.duties.fleet import scale_until
from boltq_core.errors import ConfigError
from boltq_core.jobs.queue import shared_queue
from boltq_core.observability.counters import count_invocation

logger = Logger(service="boltq-poller")
_state: dict[str, Any] = {}


def lambda_client(endpoint: str | None) -> Any:
    c = _state.get("lambda")
    if c is None or _state.get("lambda_endpoint") != endpoint:
        import boto3
        from botocore.config import Config

        cfg = Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 3,
                                                                  "mode": "standard"})
        c = _state["lambda"] = boto3.client("lambda", endpoint_url=endpoint, config=cfg)
        _state["lambda_endpoint"] = endpoint
    return c


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    q = shared_queue()
    s = q.settings
    if not s.worker_function_name:
        raise ConfigError("WORKER_FUNCTION_NAME is not set")
    deadline = (time.monotonic() + context.get_remaining_time_in_millis() / 1000
                - s.poller_stop_before_seconds)
    count_invocation(q.redis, q.keys, "poller")
    invoke = lambda_client(s.lambda_endpoint_url or None).invoke
    result = scale_until(q, deadline, invoke, s.worker_function_name)
    logger.info("poller pass finished", extra=result)
    return result
