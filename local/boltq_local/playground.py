"""`boltq playground deploy`: publish playground/dist to the template's private S3 bucket,
served over HTTPS by its CloudFront distribution (origin access control).

Every file gets its content type and a cache policy: index.html and config.json are never cached
(so a deploy shows at once), Vite's content-hashed files under assets/ are immutable, anything
else is cached briefly. config.json beside index.html carries the API and WebSocket URLs the
page reads at start (never the API key: anyone may fetch the page; users enter the key in
Settings). Objects left over from an earlier build are removed. CloudFront may still hold the
old index.html and config.json at its edges: the deploy ends with an invalidation of both (the
hashed assets have new names). The bucket, distribution and URLs come from the stack's outputs
(PlaygroundBucketName, PlaygroundDistributionId, ApiUrl, WebSocketUrl) unless given.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

NO_CACHE = "no-cache, no-store, must-revalidate"
IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=300"
# what CloudFront must fetch again after a deploy: the names that stay the same between builds
INVALIDATE = ("/index.html", "/config.json")
HASHED = re.compile(r"(^|/)assets/.+[-.][A-Za-z0-9_-]{8,}\.[a-z0-9]+$")
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".map": "application/json",
    ".woff2": "font/woff2",
    ".webmanifest": "application/manifest+json",
}
ROOT = Path(__file__).resolve().parents[2]


def content_type(key: str) -> str:
    suffix = Path(key).suffix.lower()
    return TYPES.get(suffix) or mimetypes.guess_type(key)[0] or "application/octet-stream"


def cache_control(key: str) -> str:
    name = key.rsplit("/", 1)[-1]
    if name in ("index.html", "config.json"):
        return NO_CACHE
    if HASHED.search(key):
        return IMMUTABLE
    return SHORT


def stack_outputs(stack: str, cfn: Any = None) -> dict[str, str]:
    import boto3

    cfn = cfn or boto3.client("cloudformation")
    desc = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in desc.get("Outputs", [])}


def deploy(dist: Path, bucket: str, api_url: str, ws_url: str, s3: Any = None,
           prune: bool = True) -> list[str]:
    """Upload dist/ and config.json to the bucket; returns the keys written."""
    import boto3

    if not (dist / "index.html").is_file():
        raise FileNotFoundError(f"{dist}/index.html is missing: run `npm run build` in playground/")
    s3 = s3 or boto3.client("s3")
    written: list[str] = []
    files = sorted(p for p in dist.rglob("*") if p.is_file())
    # hashed assets first, index.html last: a visitor never gets a page whose assets are missing
    files.sort(key=lambda p: (p.name == "index.html", p.relative_to(dist).as_posix()))
    config = json.dumps({"apiUrl": api_url, "wsUrl": ws_url}, indent=2).encode()
    for path in files:
        key = path.relative_to(dist).as_posix()
        if key == "config.json":
            continue  # written below with this stack's URLs
        if key == "index.html":
            _put(s3, bucket, "config.json", config)
            written.append("config.json")
        _put(s3, bucket, key, path.read_bytes())
        written.append(key)
    if prune:
        keep = set(written)
        stale = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
                 for o in page.get("Contents", []) if o["Key"] not in keep]
        for i in range(0, len(stale), 1000):
            s3.delete_objects(Bucket=bucket, Delete={
                "Objects": [{"Key": k} for k in stale[i:i + 1000]], "Quiet": True})
    return written


def invalidate(distribution_id: str, cloudfront: Any = None) -> str:
    """Have CloudFront fetch index.html and config.json again; returns the invalidation id."""
    import boto3

    cloudfront = cloudfront or boto3.client("cloudfront")
    reply = cloudfront.create_invalidation(DistributionId=distribution_id, InvalidationBatch={
        "Paths": {"Quantity": len(INVALIDATE), "Items": list(INVALIDATE)},
        "CallerReference": f"boltq-playground-{uuid.uuid4()}"})
    return str(reply["Invalidation"]["Id"])


def _put(s3: Any, bucket: str, key: str, body: bytes) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type(key),
                  CacheControl=cache_control(key))


def add_parser(sub: Any) -> None:
    p = sub.add_parser("playground", help="publish the playground (S3 bucket + CloudFront)")
    p.add_argument("action", choices=["deploy"])
    p.add_argument("--stack", default="boltq", help="CloudFormation stack (default boltq)")
    p.add_argument("--bucket", help="default: the stack's PlaygroundBucketName output")
    p.add_argument("--distribution",
                   help="CloudFront distribution id (default: the stack's "
                        "PlaygroundDistributionId output)")
    p.add_argument("--api-url", help="default: the stack's ApiUrl output")
    p.add_argument("--ws-url", help="default: the stack's WebSocketUrl output")
    p.add_argument("--dist", default=str(ROOT / "playground" / "dist"))
    p.add_argument("--build", action="store_true", help="run `npm ci && npm run build` first")
    p.add_argument("--no-prune", action="store_true", help="keep objects of earlier builds")


def cmd_playground(a: argparse.Namespace) -> int:
    dist = Path(a.dist)
    if a.build:
        for step in (["npm", "ci", "--no-audit", "--no-fund"], ["npm", "run", "build"]):
            if subprocess.run(step, cwd=dist.parent).returncode != 0:
                print(f"boltq playground: `{' '.join(step)}` failed", file=sys.stderr)
                return 1
    outputs: dict[str, str] = {}
    if not (a.bucket and a.api_url and a.ws_url):  # all given: no stack to ask
        outputs = stack_outputs(a.stack)
    bucket = a.bucket or outputs.get("PlaygroundBucketName")
    if not bucket:
        print(f"boltq playground: stack {a.stack} has no PlaygroundBucketName output",
              file=sys.stderr)
        return 1
    api_url = a.api_url or outputs.get("ApiUrl", "")
    ws_url = a.ws_url or outputs.get("WebSocketUrl", "")
    try:
        keys = deploy(dist, bucket, api_url, ws_url, prune=not a.no_prune)
    except FileNotFoundError as exc:
        print(f"boltq playground: {exc}", file=sys.stderr)
        return 1
    print(f"uploaded {len(keys)} files to s3://{bucket} (API {api_url or 'same origin'}, "
          f"WebSocket {ws_url or 'same origin'})")
    distribution = a.distribution or outputs.get("PlaygroundDistributionId")
    if distribution:
        ref = invalidate(distribution)
        print(f"CloudFront {distribution}: invalidation {ref} of {' and '.join(INVALIDATE)}")
    else:
        print("boltq playground: no CloudFront distribution (--distribution or the stack's "
              "PlaygroundDistributionId output): cached copies stay until they expire",
              file=sys.stderr)
    if outputs.get("PlaygroundUrl"):
        print(f"playground: {outputs['PlaygroundUrl']}")
    return 0
