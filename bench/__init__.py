"""BoltQ benchmarks: bulk submit, multi-process drain, pickup latency, Redis commands and round
trips per job, memory per pending job, and the server's own redis-benchmark figures.

Run `python -m bench.run` (or `--quick` for a short sanity pass); bench/run.py tells more."""
