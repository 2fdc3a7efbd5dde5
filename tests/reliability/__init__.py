"""Reliability tests: real faults against real processes (tests/support/faults.py: a TCP proxy that
moves, black-holes or cuts connections, a primary + replica pair that fails over; SIGKILL of
workers and of the store). All are marked slow; run them with
`./scripts/test tests/reliability`."""
