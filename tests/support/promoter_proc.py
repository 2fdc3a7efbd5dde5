"""A promoter in a process of its own, for tests/core/test_schedule_promoters.py: the real
promotion loop (duties.promotion.Promoter) on a namespace, without the promoter lock, so
several of them race as they would if the lock failed them.

    python -m tests.support.promoter_proc REDIS_URL PREFIX SECONDS"""

from __future__ import annotations

import sys
import time

from boltq_core import Queue, Settings
from boltq_core.duties.promotion import Promoter


def main() -> None:
    url, prefix, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    q = Queue(Settings(redis_url=url, key_prefix=prefix))
    promoter = Promoter(q)
    print("ready", flush=True)
    promoter.run(time.monotonic() + seconds)


if __name__ == "__main__":
    main()
