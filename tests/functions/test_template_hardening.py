"""template.yaml's deployment hardening: secrets reach functions as ARNs (IAM scoped to them),
the network choice, narrow security groups, logs with retention, the HTTPS playground, and
checkov (offline, from its own tools venv .tools/checkov, scripts/_checkov.sh) with no failed
check and a reason beside every suppressed one."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from boltq_local.template import load, load_yaml
from tests.functions.conftest import ROOT

TEMPLATE = ROOT / "template.yaml"
ASYNC = ("PromoterFunction", "PollerFunction", "WorkerFunction")  # invoked as events


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_yaml(TEMPLATE)


def res(template: dict[str, Any], name: str) -> dict[str, Any]:
    return template["Resources"][name]


def props(template: dict[str, Any], name: str) -> dict[str, Any]:
    return res(template, name)["Properties"]


def of_type(template: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == rtype}


def functions(template: dict[str, Any]) -> list[str]:
    """Every function of the template (a function added later is held to the same rules)."""
    fns = list(of_type(template, "AWS::Serverless::Function"))
    assert {"ApiFunction", "WsFunction", "PromoterFunction", "PollerFunction",
            "WorkerFunction"} <= set(fns)
    return fns


def env_of(template: dict[str, Any], fn: str) -> dict[str, Any]:
    glob = template["Globals"]["Function"]["Environment"]["Variables"]
    return {**glob, **(props(template, fn).get("Environment") or {}).get("Variables", {})}


# --- secrets at run time ----------------------------------------------------------------------


def test_functions_get_secret_arns_never_values(template: dict[str, Any]) -> None:
    text = TEMPLATE.read_text()
    assert "{{resolve:" not in json.dumps(template["Globals"])  # no value resolved into an env
    for fn in functions(template):
        env = env_of(template, fn)
        for name in ("REDIS_AUTH_TOKEN", "REDIS_PASSWORD", "BOLTQ_API_KEY"):
            assert name not in env, (fn, name)
        assert env["REDIS_AUTH_TOKEN_SECRET_ARN"] == {"Fn::If": [
            "CreateRedis", {"Fn::Sub": "${RedisAuthSecret}#token"},
            {"Ref": "ExistingRedisAuthSecretArn"}]}, fn
        assert {"Ref": "ApiKeyValue"} not in env.values(), fn
    assert env_of(template, "WsFunction")["BOLTQ_API_KEY_SECRET_ARN"] == {"Ref": "ApiKeySecret"}
    assert props(template, "ApiKeySecret")["SecretString"] == {"Ref": "ApiKeyValue"}
    assert "ExistingRedisAuthToken" not in text  # a value parameter would land in an env


def _statements(template: dict[str, Any], policy: str) -> list[dict[str, Any]]:
    doc = props(template, policy)["PolicyDocument"]
    return list(doc["Statement"])


def test_secret_reads_are_scoped_to_exactly_those_arns(template: dict[str, Any]) -> None:
    assert _statements(template, "StoreSecretReadPolicy") == [{
        "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
        "Resource": {"Fn::If": ["CreateRedis", {"Ref": "RedisAuthSecret"},
                                {"Ref": "ExistingRedisAuthSecretArn"}]}}]
    assert _statements(template, "ApiKeySecretReadPolicy") == [{
        "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
        "Resource": {"Ref": "ApiKeySecret"}}]
    for fn in functions(template):
        policies = props(template, fn)["Policies"]
        assert {"Ref": "StoreSecretReadPolicy"} in policies, fn
        # the API key's secret: read by the functions that are given its ARN, and only by them
        given = env_of(template, fn).get("BOLTQ_API_KEY_SECRET_ARN") == {"Ref": "ApiKeySecret"}
        assert ({"Ref": "ApiKeySecretReadPolicy"} in policies) == given, fn
    # an existing store needs its token's secret (AUTH in AWS) and a TLS URL
    rule = template["Rules"]["ExistingStoreNeedsItsAuthSecret"]
    assert "ExistingRedisAuthSecretArn" in json.dumps(rule["Assertions"])
    assert template["Parameters"]["ExistingRedisUrl"]["AllowedPattern"] == "^(rediss://.+)?$"
    rg = props(template, "RedisReplicationGroup")
    assert rg["TransitEncryptionEnabled"] is True and rg["AtRestEncryptionEnabled"] is True


def test_boltq_dev_reads_no_secret_of_the_template() -> None:
    """Locally the template's ARNs name nothing: boltq dev blanks them (values come from the
    shell), so a local start never calls Secrets Manager."""
    from boltq_local.environment import function_env
    from boltq_local.signing import LocalCredentials

    creds = LocalCredentials.generate().environment()
    tpl = load(TEMPLATE)
    for fn in tpl.functions.values():
        env = function_env(fn, {}, store_url="redis://127.0.0.1:1/0", embedded=True,
                           api_port=8080, num_workers=2, overrides={}, credentials=creds,
                           cors_origins="http://localhost:8080")
        assert env["REDIS_AUTH_TOKEN_SECRET_ARN"] == "" and env["BOLTQ_API_KEY_SECRET_ARN"] == ""
        shell = {"BOLTQ_API_KEY_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:x"}
        env = function_env(fn, shell, store_url="redis://127.0.0.1:1/0", embedded=True,
                           api_port=8080, num_workers=2, overrides={}, credentials=creds,
                           cors_origins="http://localhost:8080")
        assert env["BOLTQ_API_KEY_SECRET_ARN"] == shell["BOLTQ_API_KEY_SECRET_ARN"]
    assert tpl.functions["WorkerFunction"].reserved_concurrency is None  # 0: unreserved
    tpl = load(TEMPLATE, {"WorkerReservedConcurrency": "7"})
    assert tpl.functions["WorkerFunction"].reserved_concurrency == 7


# --- network ----------------------------------------------------------------------------------


def test_network_modes(template: dict[str, Any]) -> None:
    mode = template["Parameters"]["NetworkMode"]
    assert set(mode["AllowedValues"]) == {"ExistingNat", "CreateNat", "NoVpc"}
    for ep in of_type(template, "AWS::EC2::VPCEndpoint").values():
        assert "execute-api" not in json.dumps(ep["Properties"]["ServiceName"])
    # CreateNat: a NAT gateway and a default route through it for the function subnets
    nat = [k for k, v in template["Resources"].items() if v.get("Condition") == "MakeNat"]
    assert {"NatGateway", "NatRoute", "NatRouteTableSubnetA", "NatRouteTableSubnetB"} <= set(nat)
    assert props(template, "NatRoute")["DestinationCidrBlock"] == "0.0.0.0/0"
    # NoVpc: the functions leave the VPC (and no security group is made)
    assert template["Globals"]["Function"]["VpcConfig"]["Fn::If"][0] == "InVpc"
    assert res(template, "FunctionSecurityGroup")["Condition"] == "InVpc"
    assert "ExistingRedisUrl" in json.dumps(template["Rules"]["NoVpcNeedsAnExistingStore"])


def test_security_groups_are_narrow(template: dict[str, Any]) -> None:
    fn_sg = props(template, "FunctionSecurityGroup")
    assert "SecurityGroupIngress" not in fn_sg  # nothing connects to a function
    assert fn_sg["SecurityGroupEgress"] == [{  # HTTPS out (public AWS endpoints) only
        "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0",
        "Description": "AWS APIs and the WebSocket @connections API"}]
    to_store = props(template, "FunctionToRedisEgress")
    assert (to_store["FromPort"], to_store["ToPort"]) == (6379, 6379)
    assert to_store["DestinationSecurityGroupId"] == {"Ref": "RedisSecurityGroup"}
    existing = props(template, "FunctionToExistingRedisEgress")
    assert existing["CidrIp"] == {"Ref": "ExistingRedisCidr"}
    for sg in ("RedisSecurityGroup", "EndpointSecurityGroup"):
        p = props(template, sg)
        assert [r["SourceSecurityGroupId"] for r in p["SecurityGroupIngress"]] == [
            {"Ref": "FunctionSecurityGroup"}]
        assert [r["CidrIp"] for r in p["SecurityGroupEgress"]] == ["127.0.0.1/32"]  # none
    for rule in of_type(template, "AWS::EC2::SecurityGroupEgress").values():
        assert rule["Properties"].get("CidrIp") != "0.0.0.0/0"


# --- logs, concurrency, async event age -----------------------------------------------------


def test_every_function_logs_to_a_group_with_retention(template: dict[str, Any]) -> None:
    groups = of_type(template, "AWS::Logs::LogGroup")
    for fn in functions(template):
        group = props(template, fn)["LoggingConfig"]["LogGroup"]["Ref"]
        assert groups[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    for group in groups.values():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    rest = props(template, "RestApi")["AccessLogSetting"]
    assert rest["DestinationArn"] == {"Fn::GetAtt": ["RestApiAccessLogs", "Arn"]}
    ws = props(template, "WsStage")["AccessLogSettings"]
    assert ws["DestinationArn"] == {"Fn::GetAtt": ["WebSocketAccessLogs", "Arn"]}
    for fmt in (rest["Format"], ws["Format"]):
        fields = json.loads(fmt)  # one JSON object per request
        assert "$context.requestId" in fields.values()
        assert not any("apiKey}" in v or "querystring" in v.lower() for v in fields.values())
    # the stages wait for the account's CloudWatch role when this stack sets it
    assert res(template, "WsStage")["DependsOn"] == "ApiGatewayLogRoleReady"
    assert res(template, "RestApi")["DependsOn"] == "ApiGatewayLogRoleReady"


def test_async_functions_drop_stale_events_and_the_worker_has_a_concurrency_cap(
        template: dict[str, Any]) -> None:
    for fn in ASYNC:
        cfg = props(template, fn)["EventInvokeConfig"]
        assert cfg["MaximumRetryAttempts"] == 0 and 60 <= cfg["MaximumEventAgeInSeconds"] <= 300
    assert props(template, "WorkerFunction")["ReservedConcurrentExecutions"] == {"Fn::If": [
        "ReserveWorkers", {"Ref": "WorkerReservedConcurrency"}, {"Ref": "AWS::NoValue"}]}
    assert template["Parameters"]["WorkerReservedConcurrency"]["Type"] == "Number"


# --- the HTTPS playground ---------------------------------------------------------------------


def test_the_playground_is_https_only_from_a_private_bucket(template: dict[str, Any]) -> None:
    bucket = props(template, "PlaygroundBucket")
    assert "WebsiteConfiguration" not in bucket
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    statements = props(template, "PlaygroundBucketPolicy")["PolicyDocument"]["Statement"]
    allow = [s for s in statements if s["Effect"] == "Allow"]
    assert allow == [{
        "Sid": "OnlyThisDistributionReads", "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
        "Resource": {"Fn::Sub": "${PlaygroundBucket.Arn}/*"},
        "Condition": {"StringEquals": {"AWS:SourceArn": {"Fn::Sub": (
            "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/"
            "${PlaygroundDistribution}")}}}}]
    dist = props(template, "PlaygroundDistribution")["DistributionConfig"]
    origin = dist["Origins"][0]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["PlaygroundOriginAccess", "Id"]}
    assert origin["DomainName"] == {"Fn::GetAtt": ["PlaygroundBucket", "RegionalDomainName"]}
    oac = props(template, "PlaygroundOriginAccess")["OriginAccessControlConfig"]
    assert (oac["SigningBehavior"], oac["SigningProtocol"]) == ("always", "sigv4")
    behavior = dist["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behavior["ResponseHeadersPolicyId"] == {"Ref": "PlaygroundHeaders"}
    assert template["Outputs"]["PlaygroundUrl"]["Value"] == {
        "Fn::Sub": "https://${PlaygroundDistribution.DomainName}"}
    assert template["Outputs"]["PlaygroundDistributionId"]["Value"] == {
        "Ref": "PlaygroundDistribution"}


def test_the_playground_headers(template: dict[str, Any]) -> None:
    sec = props(template, "PlaygroundHeaders")["ResponseHeadersPolicyConfig"][
        "SecurityHeadersConfig"]
    text = sec["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"]
    csp = {name: value for name, _, value in (d.strip().partition(" ") for d in text.split(";"))}
    assert csp["default-src"] == "'none'" and csp["script-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
    # the page calls this stack's REST and WebSocket APIs, nothing else
    assert csp["connect-src"].split() == [
        "'self'", "https://${RestApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}",
        "wss://${WebSocketApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"]
    assert "'unsafe-inline'" not in json.dumps(csp) and "'unsafe-eval'" not in json.dumps(csp)
    hsts = sec["StrictTransportSecurity"]
    assert hsts["AccessControlMaxAgeSec"] >= 31536000 and hsts["IncludeSubdomains"] is True
    assert sec["FrameOptions"]["FrameOption"] == "DENY"
    assert sec["ContentTypeOptions"] == {"Override": True}


def test_the_built_playground_needs_nothing_the_csp_forbids() -> None:
    """The CSP allows scripts and styles from the page's own origin only: the built page (or
    its source) has no inline script, no inline style element and no external host."""
    index = ROOT / "playground" / "dist" / "index.html"
    if not index.is_file():
        index = ROOT / "playground" / "index.html"
    html = index.read_text()
    assert "<style" not in html
    for tag in html.split("<script")[1:]:
        head = tag.split(">", 1)[0]
        assert "src=" in head, f"inline script in {index}: {tag[:80]}"
        assert "//" not in head.split("src=", 1)[1].split()[0], head


# --- checkov ---------------------------------------------------------------------------------


def checkov_env() -> dict[str, str]:
    out = subprocess.run(
        ["bash", "-c", f"source {ROOT}/scripts/_checkov.sh >&2 && env -0"],
        capture_output=True, timeout=900, check=False,
    )
    assert out.returncode == 0, out.stderr.decode()[-3000:]
    return dict(kv.split("=", 1) for kv in out.stdout.decode().split("\0") if "=" in kv)


@pytest.mark.timeout(900)  # the first run installs checkov into .tools/checkov
def test_checkov_finds_nothing_and_every_suppression_says_why(template: dict[str, Any]) -> None:
    env = checkov_env()
    r = subprocess.run(
        [env["CHECKOV"], "-f", str(TEMPLATE), "--framework", "cloudformation",
         "--skip-download", "--compact", "-o", "json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    report = json.loads(r.stdout)
    results = report["results"]
    failed = [(c["check_id"], c["resource"]) for c in results["failed_checks"]]
    assert failed == [], failed
    assert report["summary"]["parsing_errors"] == 0
    assert len(results["passed_checks"]) > 40  # it really read the template
    for name, resource in template["Resources"].items():
        for skip in (resource.get("Metadata") or {}).get("checkov", {}).get("skip", []):
            assert len(skip.get("comment", "")) > 20, (name, skip)
