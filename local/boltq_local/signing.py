"""SigV4 checks for the AWS-shaped side endpoints of `boltq dev` (the Lambda Invoke API and
@connections): only a request signed with the credentials `boltq dev` hands its own functions
gets in, so a web page or another local user cannot run a function or push to a client.

The credentials are random per run (`LocalCredentials.generate`). The signature is recomputed
with botocore's own SigV4 signer over the headers the client says it signed; no crypto of ours
but the constant-time comparison."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

# how far a request's X-Amz-Date may be from now (AWS allows 5 minutes too)
MAX_SKEW_SECONDS = 300
_AUTH = re.compile(r"AWS4-HMAC-SHA256 Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/([^/,\s]+)"
                   r"/aws4_request,\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})$")


@dataclass(frozen=True)
class LocalCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str

    @classmethod
    def generate(cls) -> LocalCredentials:
        return cls("ASIA" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30),
                   secrets.token_urlsafe(48))

    def environment(self) -> dict[str, str]:
        """What a function's environment carries, as in Lambda."""
        return {"AWS_ACCESS_KEY_ID": self.access_key_id,
                "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
                "AWS_SESSION_TOKEN": self.session_token}

    def write(self, path: Path) -> None:
        """Saved for the developer's own tools (readable by the owner only), in the shape of
        AWS's credential_process output (`credential_process = cat <file>` in a profile)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"Version": 1, "AccessKeyId": self.access_key_id,
                       "SecretAccessKey": self.secret_access_key,
                       "SessionToken": self.session_token}, f)
        os.chmod(path, 0o600)  # the file may have existed with wider bits


def refusal(message: str) -> web.Response:
    return web.json_response({"message": message}, status=403,
                             headers={"x-amzn-ErrorType": "InvalidSignatureException"})


def check(request: web.Request, body: bytes, creds: LocalCredentials,
          service: str) -> str | None:
    """None when `request` is SigV4-signed by `creds` for `service`, else why not."""
    m = _AUTH.match(request.headers.get("Authorization", ""))
    if m is None:
        return "missing or malformed SigV4 Authorization header"
    key_id, day, region, svc, signed, signature = m.groups()
    if not hmac.compare_digest(key_id.encode(), creds.access_key_id.encode()):
        return "unknown access key"
    if svc != service:
        return f"signed for service {svc!r}, not {service!r}"
    stamp = request.headers.get("X-Amz-Date", "")
    try:
        when = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return "missing or malformed X-Amz-Date"
    if stamp[:8] != day:
        return "credential scope date differs from X-Amz-Date"
    if abs((dt.datetime.now(dt.UTC) - when).total_seconds()) > MAX_SKEW_SECONDS:
        return "request time too skewed"
    names = signed.split(";")
    if "host" not in names or "x-amz-date" not in names:
        return "host and x-amz-date must be signed"
    token = request.headers.get("X-Amz-Security-Token", "")
    if "x-amz-security-token" not in names or not hmac.compare_digest(
            token.encode(), creds.session_token.encode()):
        return "missing or wrong security token"
    content_sha = request.headers.get("X-Amz-Content-SHA256")
    if content_sha is not None and content_sha != hashlib.sha256(body).hexdigest():
        return "x-amz-content-sha256 does not match the body"  # no UNSIGNED-PAYLOAD here
    headers = {}
    for name in names:
        if name not in request.headers:
            return f"signed header {name!r} is missing"
        headers[name] = ",".join(v.strip() for v in request.headers.getall(name))
    # the path as sent (percent-encoded): botocore's canonical URI encodes it once more, as the
    # client's did
    url = f"http://{request.host}{request.rel_url.raw_path_qs}"
    aws = AWSRequest(method=request.method, url=url, headers=headers, data=body)
    aws.context["timestamp"] = stamp
    signer = SigV4Auth(Credentials(creds.access_key_id, creds.secret_access_key,
                                   creds.session_token), service, region)
    canonical = signer.canonical_request(aws)
    if signer.signed_headers(signer.headers_to_sign(aws)) != signed:
        return "signed headers do not match the request"
    expected = signer.signature(signer.string_to_sign(aws, canonical), aws)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return "signature does not match"
    return None
