"""template.yaml: checks cfn-lint misses in SAM syntax, and (slow) `sam validate --lint`,
`sam build` and SAM CLI's own providers, run with SAM CLI from the tools venv (.tools/sam,
installed on demand by scripts/_tools.sh)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from boltq_local.template import load, load_yaml
from tests.functions.conftest import FUNCTIONS, ROOT, load_function

TEMPLATE = ROOT / "template.yaml"
MANAGED_ROUTE_METHODS = {"OPTIONS", "HEAD"}




@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_yaml(TEMPLATE)  # the same reader boltq dev uses


def resources(template: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == rtype}


def fn_props(template: dict[str, Any], props: dict[str, Any], key: str) -> Any:
    return props.get(key, template.get("Globals", {}).get("Function", {}).get(key))


def test_serverless_resources_come_first(template: dict[str, Any]) -> None:
    types = [r["Type"] for r in template["Resources"].values()]
    last_serverless = max(i for i, t in enumerate(types) if t.startswith("AWS::Serverless::"))
    first_v2 = min(i for i, t in enumerate(types) if t.startswith("AWS::ApiGatewayV2::"))
    assert last_serverless < first_v2


def test_every_function_handler_exists(template: dict[str, Any]) -> None:
    fns = resources(template, "AWS::Serverless::Function")
    assert len(fns) == len(FUNCTIONS)
    for name, res in fns.items():
        props = res["Properties"]
        code = ROOT / props["CodeUri"]
        module, _, attr = fn_props(template, props, "Handler").rpartition(".")
        path = code / (module.replace(".", "/") + ".py")
        assert path.is_file(), f"{name}: handler file {path} is missing"
        assert re.search(rf"^def {attr}\(", path.read_text(), re.M), f"{name}: no {attr}()"
    layer = resources(template, "AWS::Serverless::LayerVersion")["BoltQCoreLayer"]
    assert (ROOT / layer["Properties"]["ContentUri"] / "boltq_core" / "__init__.py").is_file()
    assert (ROOT / layer["Properties"]["ContentUri"] / "requirements.txt").is_file()


def test_runtimes_and_timeouts(template: dict[str, Any]) -> None:
    layer = template["Resources"]["BoltQCoreLayer"]
    runtime = template["Globals"]["Function"]["Runtime"]
    assert re.fullmatch(r"python3\.(1[2-9])", runtime), runtime
    assert layer["Metadata"]["BuildMethod"] == runtime
    assert runtime in layer["Properties"]["CompatibleRuntimes"]
    for name, res in resources(template, "AWS::Serverless::Function").items():
        timeout = fn_props(template, res["Properties"], "Timeout")
        assert isinstance(timeout, int) and 1 <= timeout <= 900, (name, timeout)
    worker = template["Resources"]["WorkerFunction"]["Properties"]
    # any job the API accepts (MAX_JOB_TIMEOUT_SECONDS, default 840 s) fits in one invocation
    assert worker["Timeout"] >= 840 + int(worker["Environment"]["Variables"][
        "WORKER_STOP_BEFORE_SECONDS"])


RATE = re.compile(r"^rate\((1 (minute|hour|day)|([2-9]|\d{2,}) (minutes|hours|days))\)$")
CRON_FIELD = re.compile(r"^[\d*?,/\-LW#A-Z]+$")


def valid_schedule(expr: str) -> bool:
    if RATE.match(expr):
        return True
    m = re.fullmatch(r"cron\((.+)\)", expr)
    if not m:
        return False
    fields = m.group(1).split()
    return len(fields) == 6 and all(CRON_FIELD.match(f) for f in fields) and (
        fields[2] == "?" or fields[4] == "?")


def test_schedule_expression_checker() -> None:
    assert valid_schedule("rate(1 minute)") and valid_schedule("rate(5 minutes)")
    assert valid_schedule("cron(0/1 * * * ? *)")
    for bad in ("rate(1 minutes)", "rate(2 minute)", "rate(0 minutes)", "every minute",
                "cron(* * * * *)", "cron(0 * * * * *)"):
        assert not valid_schedule(bad), bad


def test_schedules(template: dict[str, Any]) -> None:
    scheduled = {}
    for name, res in resources(template, "AWS::Serverless::Function").items():
        for ev in res["Properties"].get("Events", {}).values():
            if ev["Type"] in ("Schedule", "ScheduleV2"):
                expr = ev["Properties"]["ScheduleExpression"]
                assert valid_schedule(expr), (name, expr)
                scheduled[name] = res["Properties"]
    assert set(scheduled) == {"PromoterFunction", "PollerFunction"}
    for name, props in scheduled.items():
        assert props["ReservedConcurrentExecutions"] == 1, name


def template_routes(template: dict[str, Any]) -> set[tuple[str, str, str]]:
    out = set()
    for name, res in resources(template, "AWS::Serverless::Function").items():
        for ev in res["Properties"].get("Events", {}).values():
            if ev["Type"] == "Api":
                p = ev["Properties"]
                assert p["RestApiId"] == {"Ref": "RestApi"}
                out.add((p["Method"].upper(), p["Path"], name))
    return out


def app_routes() -> set[tuple[str, str]]:
    api = load_function("api")
    out = set()
    for route in api.app._static_routes + api.app._dynamic_routes:
        path = re.sub(r"<(\w+)>", r"{\1}", route.path)
        path = path.replace("\\", "")
        out.add((route.method.upper(), path))
    return out


def test_every_rest_route_has_a_function_and_matches_the_app(template: dict[str, Any]) -> None:
    routes = template_routes(template)
    assert {fn for _, _, fn in routes} == {"ApiFunction"}
    declared = {(m, p) for m, p, _ in routes}
    app = {(m, p) for m, p in app_routes() if m not in MANAGED_ROUTE_METHODS}
    assert declared == app, {"only in template": declared - app, "only in app": app - declared}
    # the seed's routes are all there
    for must in [("POST", "/api/v1/jobs"), ("GET", "/api/v1/jobs/{job_id}"),
                 ("GET", "/api/v1/queues/stats"), ("POST", "/api/v1/workflows"),
                 ("GET", "/health")]:
        assert must in declared


def test_websocket_api(template: dict[str, Any]) -> None:
    api = resources(template, "AWS::ApiGatewayV2::Api")["WebSocketApi"]["Properties"]
    assert api["ProtocolType"] == "WEBSOCKET"
    assert api["RouteSelectionExpression"] == "$request.body.action"
    keys = {r["Properties"]["RouteKey"] for r in resources(template, "AWS::ApiGatewayV2::Route")
            .values()}
    assert {"$connect", "$disconnect", "subscribe", "unsubscribe"} <= keys
    integ = resources(template, "AWS::ApiGatewayV2::Integration")["WsIntegration"]
    assert "WsFunction.Arn" in integ["Properties"]["IntegrationUri"]["Fn::Sub"]
    assert resources(template, "AWS::ApiGatewayV2::Stage")
    assert resources(template, "AWS::ApiGatewayV2::Deployment")
    perm = resources(template, "AWS::Lambda::Permission")["WsInvokePermission"]["Properties"]
    assert perm["FunctionName"] == {"Ref": "WsFunction"}


def test_authorizer_guards_every_keyed_route(template: dict[str, Any]) -> None:
    """Every REST route the table does not make public goes through the Lambda authorizer
    (cached per x-api-key), the public ones through none; $connect through the ticket
    authorizer, the same function; the usage plan still throttles (the authorizer names the
    API key)."""
    from boltq_core.access.routes import is_public

    api = template["Resources"]["RestApi"]["Properties"]
    auth = api["Auth"]
    assert api["ApiKeySourceType"] == "AUTHORIZER" and auth["ApiKeyRequired"] is True
    boltq_keys = auth["Authorizers"][auth["DefaultAuthorizer"]]
    assert boltq_keys["FunctionPayloadType"] == "REQUEST"
    assert boltq_keys["FunctionArn"] == {"Fn::GetAtt": ["AuthorizerFunction", "Arn"]}
    assert boltq_keys["Identity"]["Headers"] == ["x-api-key"]
    assert 0 < boltq_keys["Identity"]["ReauthorizeEvery"] <= 300
    events = template["Resources"]["ApiFunction"]["Properties"]["Events"]
    for ev in events.values():
        props = ev["Properties"]
        own = props.get("Auth", {})
        if is_public(props["Method"], props["Path"]):
            assert own == {"ApiKeyRequired": False, "Authorizer": "NONE"}, props
        else:
            assert own.get("Authorizer", auth["DefaultAuthorizer"]) == "BoltQKeys", props
            assert own.get("ApiKeyRequired", True) is True, props
    assert resources(template, "AWS::ApiGateway::UsagePlan")
    connect = template["Resources"]["WsConnectRoute"]["Properties"]
    assert connect["AuthorizationType"] == "CUSTOM"
    ws_auth = template["Resources"][connect["AuthorizerId"]["Ref"]]["Properties"]
    assert ws_auth["AuthorizerType"] == "REQUEST"
    assert "AuthorizerFunction.Arn" in ws_auth["AuthorizerUri"]["Fn::Sub"]
    assert ws_auth["IdentitySource"] == ["route.request.querystring.ticket"]
    assert "AuthorizerResultTtlInSeconds" not in ws_auth  # a ticket is single use
    perm = template["Resources"]["WsAuthorizerPermission"]["Properties"]
    assert perm["FunctionName"] == {"Ref": "AuthorizerFunction"}
    # the other WebSocket routes ride on the authorised connection
    for r in resources(template, "AWS::ApiGatewayV2::Route").values():
        if r["Properties"]["RouteKey"] != "$connect":
            assert r["Properties"]["AuthorizationType"] == "NONE"


def _actions(doc: Any) -> list[str]:
    found: list[str] = []
    if isinstance(doc, dict) and doc.get("Effect") == "Deny":
        return found  # what a statement forbids may be broad (e.g. s3:* without TLS)
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k in ("Action", "NotAction"):
                found += v if isinstance(v, list) else [v]
            else:
                found += _actions(v)
    elif isinstance(doc, list):
        for v in doc:
            found += _actions(v)
    return found


def test_least_privilege(template: dict[str, Any]) -> None:
    actions = _actions(template["Resources"])
    assert actions, "no IAM statements found"
    for a in actions:
        assert isinstance(a, str) and "*" not in a, a
    poller = template["Resources"]["PollerFunction"]["Properties"]
    assert _actions(poller["Policies"]) == ["lambda:InvokeFunction"]
    assert poller["Policies"][0]["Statement"][0]["Resource"] == {
        "Fn::GetAtt": ["WorkerFunction", "Arn"]}
    promoter = template["Resources"]["PromoterFunction"]["Properties"]
    assert _actions(promoter["Policies"]) == ["execute-api:ManageConnections"]


def test_store_network_and_outputs(template: dict[str, Any]) -> None:
    rg = template["Resources"]["RedisReplicationGroup"]["Properties"]
    assert rg["TransitEncryptionEnabled"] is True
    assert rg["AutomaticFailoverEnabled"] is True and rg["NumCacheClusters"] >= 2
    # the store must never evict jobs, leases or locks under memory pressure
    group = template["Resources"][rg["CacheParameterGroupName"]["Ref"]]["Properties"]
    assert group["Properties"]["maxmemory-policy"] == "noeviction"
    assert "secretsmanager" in rg["AuthToken"]["Fn::Sub"]
    assert "ExistingRedisUrl" in template["Parameters"]
    services = {r["Properties"]["ServiceName"]["Fn::Sub"] for r in
                resources(template, "AWS::EC2::VPCEndpoint").values()}
    # no execute-api endpoint: with private DNS it breaks calls to public APIs (@connections)
    assert services == {"com.amazonaws.${AWS::Region}.lambda",
                        "com.amazonaws.${AWS::Region}.secretsmanager"}
    for p in ("PushgatewayUrl", "OtelExporterOtlpEndpoint", "VpcId", "SubnetIds"):
        assert p in template["Parameters"]
    assert {"ApiUrl", "WebSocketUrl", "PlaygroundUrl"} <= set(template["Outputs"])
    assert resources(template, "AWS::ApiGateway::UsagePlan")
    assert template["Resources"]["RestApi"]["Properties"]["Auth"]["ApiKeyRequired"] is True


# --- with SAM CLI (slow: the first run installs it into .tools/sam) --------------------------


def sam_env() -> dict[str, str]:
    """The environment scripts/_tools.sh sets up (installing SAM CLI when needed)."""
    out = subprocess.run(
        ["bash", "-c", f"source {ROOT}/scripts/_tools.sh >&2 && env -0"],
        capture_output=True, timeout=900, check=False,
    )
    assert out.returncode == 0, out.stderr.decode()[-3000:]
    pairs = (kv.split("=", 1) for kv in out.stdout.decode().split("\0") if "=" in kv)
    return dict(pairs)


@pytest.fixture(scope="module")
def sam() -> dict[str, str]:
    return sam_env()


@pytest.mark.slow
@pytest.mark.timeout(900)  # the first SAM CLI test may install it
def test_sam_validate_lint(sam: dict[str, str]) -> None:
    r = subprocess.run([sam["SAM"], "validate", "--lint", "--template", str(TEMPLATE)],
                       cwd=ROOT, env=sam, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "is a valid SAM Template" in r.stdout + r.stderr


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_sam_build(sam: dict[str, str], tmp_path: Path) -> None:
    assert shutil.which("python3.13", path=sam["PATH"]), "sam build needs python3.13 on PATH"
    build = tmp_path / "build"
    r = subprocess.run(
        [sam["SAM"], "build", "--template", str(TEMPLATE), "--build-dir", str(build)],
        cwd=ROOT, env=sam, capture_output=True, text=True, timeout=880,
    )
    assert r.returncode == 0, (r.stdout + r.stderr)[-5000:]
    for name in ("ApiFunction", "WsFunction", "PromoterFunction", "PollerFunction",
                 "WorkerFunction"):
        assert (build / name / "app.py").is_file(), name
    layer = build / "BoltQCoreLayer" / "python"
    for pkg in ("boltq_core", "redis", "pydantic", "aws_lambda_powertools"):
        assert (layer / pkg).is_dir(), pkg
    assert (layer / "boltq_core" / "jobs" / "lua" / "claim.lua").is_file()
    # the built api function imports with nothing but the layer (as in Lambda)
    r = subprocess.run(
        ["python3.13", "-c", "import app; print(app.handler.__name__)"],
        cwd=build / "ApiFunction", capture_output=True, text=True, timeout=120,
        env={"PATH": sam["PATH"], "PYTHONPATH": str(layer), "PYTHONNOUSERSITE": "1",
             "AWS_DEFAULT_REGION": "us-east-1"},
    )
    assert r.returncode == 0 and r.stdout.strip() == "handler", r.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_samcli_providers_find_every_rest_route(sam: dict[str, str],
                                                template: dict[str, Any]) -> None:
    r = subprocess.run(
        [sam["SAM_PYTHON"], str(Path(__file__).with_name("samcli_routes.py")), str(TEMPLATE)],
        cwd=ROOT, env={**sam, "PYTHONPATH": ""}, capture_output=True, text=True, timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    found = json.loads(r.stdout.strip().splitlines()[-1])
    assert set(found["functions"]) == {"ApiFunction", "WsFunction", "PromoterFunction",
                                       "PollerFunction", "WorkerFunction", "AuthorizerFunction"}
    for fn in found["functions"].values():
        assert fn["handler"] == "app.handler" and fn["timeout"] <= 900
    routes = {(m, p, f) for m, p, f in found["routes"] if m not in MANAGED_ROUTE_METHODS}
    assert routes == template_routes(template)


def test_tools_venv_is_kept_out_of_the_project_venv() -> None:
    text = (ROOT / "scripts" / "_tools.sh").read_text()
    assert ".tools/sam" in text
    assert os.path.realpath(ROOT / ".venv") not in text


def test_tracing_layer_only_when_traces_are_exported(template: dict[str, Any]) -> None:
    """The OpenTelemetry SDK ships in its own layer, added only when an OTLP endpoint is set:
    redis-py instruments itself when it finds the SDK (+~75 ms on every cold start)."""
    layer = template["Resources"]["TracingLayer"]
    assert layer["Condition"] == "TracingOn"
    assert template["Conditions"]["TracingOn"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "OtelExporterOtlpEndpoint"}, ""]}]}
    layers = template["Globals"]["Function"]["Layers"]
    assert {"Fn::If": ["TracingOn", {"Ref": "TracingLayer"}, {"Ref": "AWS::NoValue"}]} in layers
    req = (ROOT / layer["Properties"]["ContentUri"] / "requirements.txt").read_text()
    assert "opentelemetry-sdk" in req
    core = (ROOT / "layers" / "boltq_core" / "requirements.txt").read_text()
    assert "opentelemetry" not in core


def test_snapstart_is_a_parameter_of_the_api_function(template: dict[str, Any]) -> None:
    """SnapStart (off by default) snapshots published versions: the api publishes one (the
    alias `live`) whatever the parameter, so turning it on changes nothing else."""
    param = template["Parameters"]["SnapStart"]
    assert param["Default"] == "None"
    assert param["AllowedValues"] == ["None", "PublishedVersions"]
    api = template["Resources"]["ApiFunction"]["Properties"]
    assert api["SnapStart"] == {"ApplyOn": {"Ref": "SnapStart"}}
    assert api["AutoPublishAlias"] == "live"
    # the routes are Api events of the function itself: SAM points them at the alias
    assert all(ev["Type"] == "Api" for ev in api["Events"].values())
    assert not any("ApiFunction" in json.dumps(r) for k, r in template["Resources"].items()
                   if k != "ApiFunction" and r["Type"].startswith("AWS::ApiGateway"))
    # boltq dev reads it and runs the same code either way (SnapStart is AWS's alone)
    for value in ("None", "PublishedVersions"):
        tpl = load(TEMPLATE, {"SnapStart": value})
        assert tpl.parameters["SnapStart"] == value
        assert tpl.functions["ApiFunction"].handler == "app.handler"
        assert {r.function for r in tpl.routes} >= {"ApiFunction"}
