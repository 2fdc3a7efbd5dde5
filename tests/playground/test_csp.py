"""The built playground works under the Content-Security-Policy the template's CloudFront
response-headers policy sends (PlaygroundHeaders), in real headless Chromium against a real
`boltq dev` (playground/e2e/csp.mjs holds the steps): no violation, and the policy is in force.
The stack's API hosts are swapped for the local server's origin, and upgrade-insecure-requests
is left out (the local server speaks plain HTTP; CloudFront serves HTTPS only)."""

from __future__ import annotations

import pytest

from boltq_local.template import load_yaml
from tests.local.conftest import DevProcess
from tests.playground.conftest import ROOT, node_e2e

REST = "https://${RestApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
WS = "wss://${WebSocketApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"


def local_policy(origin: str) -> str:
    headers = load_yaml(ROOT / "template.yaml")["Resources"]["PlaygroundHeaders"]
    text = headers["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"][
        "ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"]
    assert REST in text and WS in text and "upgrade-insecure-requests" in text
    text = text.replace(REST, origin).replace(WS, "ws" + origin.removeprefix("http"))
    return "; ".join(d.strip() for d in text.split(";")
                     if d.strip() != "upgrade-insecure-requests")



@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_playground_works_under_its_content_security_policy(served: DevProcess,
                                                                chromium: str) -> None:
    policy = local_policy(served.url.rstrip("/"))
    code, out, err = node_e2e("csp.mjs", served.url, chromium=chromium, timeout=300,
                              env={"CSP": policy})
    assert code == 0, f"{out}\n{err}\n--- boltq dev ---\n" + "\n".join(
        served.lines[-30:])
    assert "csp: all passed" in out
