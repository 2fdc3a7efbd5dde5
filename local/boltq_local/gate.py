"""Who may talk to `boltq dev` from a browser: every request (REST, WebSocket, the Invoke API,
@connections, /metrics) must name this server in its Host header (localhost, 127.0.0.1 or
[::1] with the port, or a name the developer allowed), so a page whose DNS name is rebound to
127.0.0.1 is refused; a request with an Origin header (every cross-site browser request, every
browser WebSocket) must come from the playground's origin (this server) or one the developer
allowed. Tools that send no Origin (curl, boto3, the CLI) are not browsers and pass."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web

LOOPBACK = ("localhost", "127.0.0.1", "[::1]")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Gate:
    def __init__(self, port: int, allowed_hosts: Iterable[str] = (),
                 allowed_origins: Iterable[str] = ()) -> None:
        names = [*LOOPBACK, *(h.strip().lower() for h in allowed_hosts if h.strip())]
        # a configured name may carry its own port (behind a proxy), else it is on ours
        self.hosts = {n if _has_port(n) else f"{n}:{port}" for n in names}
        if port == 80:  # browsers leave the default port out
            self.hosts.update(n for n in names if not _has_port(n))
        self.origins = {f"http://{h}" for h in self.hosts}
        self.origins.update(o.strip().rstrip("/").lower() for o in allowed_origins
                            if o.strip() and o.strip() != "*")

    @property
    def playground_origin(self) -> str:
        return f"http://{sorted(h for h in self.hosts if h.startswith('localhost:'))[0]}"

    def refusal(self, request: web.Request) -> str | None:
        """Why `request` is refused, or None."""
        host = request.headers.get("Host", "").lower()
        if host not in self.hosts:
            return f"Host {host!r} is not this server (allowed: {', '.join(sorted(self.hosts))})"
        origin = request.headers.get("Origin")
        if origin is not None and origin.lower().rstrip("/") not in self.origins:
            return f"Origin {origin!r} is not allowed"
        return None

    def origin_allowed(self, origin: str | None) -> bool:
        return origin is not None and origin.lower().rstrip("/") in self.origins

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        why = self.refusal(request)
        if why is not None:
            return web.json_response({"success": False, "error": why, "details": []},
                                     status=403)
        return await handler(request)


def _has_port(name: str) -> bool:
    return re.fullmatch(r"(\[[^\]]+\]|[^:\[\]]+):\d+", name) is not None
