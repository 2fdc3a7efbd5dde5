"""A planned failover (ElastiCache style) under load: clients and two worker processes reach the
store through one endpoint (the proxy); mid-run the primary hands over to its replica with
FAILOVER and the endpoint moves to the new primary. Pooled sockets stay on the old node, which
now answers READONLY (and UNBLOCKED to a blocked BZPOPMIN): the clients must notice, reconnect
through the endpoint and carry on, losing nothing that was acknowledged."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from boltq_core import Queue, Settings
from tests.support.faults import Proxy, ReplicaPair
from tests.support.store_clients import Submitter, count_by, quiet_close, statuses
from tests.support.worker_fleet import Workers

pytestmark = pytest.mark.slow

LEASE = 2.0
# an ElastiCache endpoint's DNS name moves some time after the promotion: meanwhile even new
# connections reach the old primary (now a replica) and get READONLY
DNS_LAG = 1.0
# from the switch to the first acknowledged submit: a reconnect and a script load, so well
# under a second is expected; 5 s is generous for a loaded 2-core machine and still says
# "recovered by itself", not "eventually"
RESUME_BOUND = 5.0


def test_failover_clients_reconnect_and_every_acknowledged_job_completes(
    tmp_path: Path,
) -> None:
    prefix = f"fo-{uuid.uuid4().hex[:8]}"
    with (ReplicaPair() as pair, Proxy(pair.primary.port) as proxy,
          Workers(proxy.url, prefix, tmp_path, lease=LEASE) as workers):
        settings = Settings(redis_url=proxy.url, key_prefix=prefix, lease_seconds=LEASE)
        queue = Queue(settings)
        submitter = Submitter(queue, data={"seconds": 0.02})
        try:
            workers.spawn()
            workers.spawn()
            submitter.start()
            submitter.wait_acked(100, timeout=10)  # the workers are busy by now
            t0 = time.monotonic()
            new_primary = pair.failover()
            failover_s = time.monotonic() - t0
            time.sleep(DNS_LAG)
            proxy.switch(new_primary.port)
            switched = time.monotonic()
            resumed = submitter.first_ack_after(switched, timeout=RESUME_BOUND)
            if resumed is not None:
                time.sleep(1.0)  # more submits on the new primary
            stuck = not submitter.stop()
            acked = [job_id for _, job_id, _ in submitter.acked]
            expected = {job_id: i for _, job_id, i in submitter.acked}

            direct = Queue(Settings(redis_url=new_primary.url, key_prefix=prefix))
            try:
                # wait for the acknowledged jobs to finish while any worker is still there
                end = time.monotonic() + 15
                st = statuses(direct, acked)
                while (workers.alive() and time.monotonic() < end
                       and any(s != "completed" for s in st.values())):
                    time.sleep(0.1)
                    st = statuses(direct, acked)
                wrong = {j: s for j, s in st.items() if s != "completed"}
                bad_results = [
                    j for j in acked if st[j] == "completed"
                    and direct.get(j).result.get("i") != expected[j]  # type: ignore[union-attr]
                ]
            finally:
                quiet_close(direct)

            problems = []
            if resumed is None:
                problems.append(
                    f"no submit succeeded within {RESUME_BOUND}s of the switch; last error: "
                    f"{submitter.last_error()}")
            if stuck:
                problems.append("the submitter was still stuck in a call 15 s after stop")
            for p in workers.dead():
                problems.append(f"worker crashed: {workers.why(p)}")
            if wrong:
                problems.append(
                    f"{len(wrong)} of {len(acked)} acknowledged jobs not completed: "
                    f"{count_by(wrong.values())}")
            if bad_results:
                problems.append(f"{len(bad_results)} jobs completed with a wrong result")
            summary = (f"failover took {failover_s:.2f}s; resumed after "
                       f"{'-' if resumed is None else f'{resumed:.2f}s'}; "
                       f"{len(acked)} acked, {len(submitter.errors)} failed submits")
            assert not problems, summary + "\n" + "\n".join(problems)
        finally:
            submitter.stop()
            quiet_close(queue)
