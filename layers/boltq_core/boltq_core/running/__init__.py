"""Running jobs: processors, the runner, its heartbeat and its asyncio client."""
