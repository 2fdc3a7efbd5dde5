from boltq_core import Queue
from tests.conftest import run_worker


def test_submit_then_run_echo(queue: Queue) -> None:
    sub = queue.submit({"type": "echo", "data": {"message": "Hello World"}})
    assert queue.get(sub.job_id).status == "pending"
    run_worker(queue, until=lambda: queue.get(sub.job_id).status == "completed")
    job = queue.get(sub.job_id)
    assert job.result == {"message": "Hello World"}
    assert job.attempts == 1
