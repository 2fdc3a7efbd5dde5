"""The pages `boltq dev` serves outside the API: the built playground (a single-page app:
every unknown page is its index.html), or a page of links when it is not built."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from aiohttp import web


class StaticSite:
    def __init__(self, dist: Path, api_port: int, metrics_port: int) -> None:
        self.dist = dist
        self.api_port = api_port
        self.metrics_port = metrics_port

    @property
    def built(self) -> bool:
        return (self.dist / "index.html").exists()

    def page(self, path: str) -> web.StreamResponse | None:
        """The response for GET `path`, or None when it is no page of the site."""
        if self.dist.is_dir() and self.built:
            target = (self.dist / path.lstrip("/")).resolve()
            if not target.is_relative_to(self.dist.resolve()) or not target.is_file():
                target = self.dist / "index.html"
            ctype = mimetypes.guess_type(str(target))[0] or "application/octet-stream"
            return web.FileResponse(target, headers={"Content-Type": ctype})
        if path in ("/", "/index.html"):
            return web.Response(text=self.home_page(), content_type="text/html")
        return None

    def home_page(self) -> str:
        links = "".join(f'<li><a href="{u}">{t}</a></li>' for t, u in (
            ("API docs (Swagger UI)", "/api/v1/docs"),
            ("OpenAPI document", "/api/v1/openapi.json"),
            ("Health", "/health"),
            ("Queue statistics", "/api/v1/queues/stats"),
            ("Metrics", f"http://localhost:{self.metrics_port}/metrics"),
            ("Local functions", "/_boltq/functions"),
        ))
        return ("<!doctype html><meta charset=utf-8><title>BoltQ dev</title>"
                "<h1>BoltQ local runtime</h1><p>The playground is not built "
                "(<code>cd playground &amp;&amp; npm ci &amp;&amp; npm run build</code>)."
                f"</p><ul>{links}</ul><p>WebSocket: <code>ws://localhost:"
                f"{self.api_port}/ws</code></p>")
