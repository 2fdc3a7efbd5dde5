"""Read a SAM template (template.yaml) into what the local runtime serves: functions with their
resolved environment and timeout, REST routes (Api events), schedules (Schedule/ScheduleV2
events) and the WebSocket API (AWS::ApiGatewayV2 Api/Route/Integration/RouteResponse).

CloudFormation tags (!Ref, !GetAtt, !Sub, !If, !Equals, !Join, ...) are resolved against the
parameters' defaults plus local overrides; what only exists in AWS (a resource's attribute, a
secret) resolves to a placeholder or "", and the local runtime overrides what matters."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PSEUDO = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::StackName": "boltq-local",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NoValue": None,
}


class TemplateError(Exception):
    """The template cannot be served locally (say what and where)."""


@dataclass(frozen=True)
class Function:
    logical_id: str
    code_dir: Path  # CodeUri, absolute
    handler: str  # module.attr, e.g. app.handler
    timeout: float  # seconds
    memory_mb: int
    environment: dict[str, str]  # resolved template environment (before local overrides)
    reserved_concurrency: int | None = None


@dataclass(frozen=True)
class Authorizer:
    """A Lambda REQUEST authorizer: the function, where the identity comes from (every one
    must be present, else 401 without calling it) and how long its policy is cached."""

    name: str
    function: str  # logical id
    headers: tuple[str, ...] = ()
    query: tuple[str, ...] = ()
    ttl_seconds: int = 0


@dataclass(frozen=True)
class RestRoute:
    function: str  # logical id
    method: str  # GET, POST, ... or ANY
    path: str  # /api/v1/jobs/{job_id}
    event_name: str
    api_key_required: bool
    authorizer: Authorizer | None = None


@dataclass(frozen=True)
class Schedule:
    function: str
    event_name: str
    expression: str  # rate(1 minute) / cron(...)
    seconds: float  # the period; cron expressions are approximated by their field granularity
    enabled: bool = True
    payload: Any = None  # the event's Input, when given


@dataclass(frozen=True)
class WebSocketApi:
    logical_id: str
    route_selection: str  # e.g. $request.body.action
    routes: dict[str, str]  # route key -> function logical id
    replies: frozenset[str]  # route keys whose integration reply goes back to the client
    stage: str = "prod"
    authorizers: dict[str, Authorizer] = field(default_factory=dict)  # route key -> its own


@dataclass
class Template:
    path: Path
    parameters: dict[str, Any]
    functions: dict[str, Function] = field(default_factory=dict)
    routes: list[RestRoute] = field(default_factory=list)
    schedules: list[Schedule] = field(default_factory=list)
    websocket: WebSocketApi | None = None
    cors: dict[str, str] = field(default_factory=dict)
    rest_stage: str = "prod"


# --- YAML with CloudFormation tags ---------------------------------------------------------


class _Loader(yaml.SafeLoader):
    pass


def _tag(name: str) -> Any:
    key = "Ref" if name == "Ref" else f"Fn::{name}"

    def construct(loader: yaml.Loader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "GetAtt" and isinstance(value, str):
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {key: value}

    return construct


for _name in ("Ref", "GetAtt", "Sub", "If", "Equals", "Not", "And", "Or", "Join", "Select",
              "Split", "FindInMap", "GetAZs", "ImportValue", "Base64", "Cidr", "Condition",
              "Length", "ToJsonString"):
    _Loader.add_constructor(f"!{_name}", _tag(_name))


def load_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except yaml.YAMLError as exc:
        raise TemplateError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        raise TemplateError(f"{path}: no Resources section")
    return data


# --- intrinsic functions -----------------------------------------------------------------------


class Resolver:
    def __init__(self, doc: dict[str, Any], parameters: dict[str, Any]) -> None:
        self.doc = doc
        self.parameters = parameters
        self.resources: dict[str, Any] = doc.get("Resources") or {}
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            expr = (self.doc.get("Conditions") or {}).get(name)
            if expr is None:
                raise TemplateError(f"unknown condition {name!r}")
            self._conditions[name] = bool(self.resolve(expr))
        return self._conditions[name]

    def ref(self, name: str) -> Any:
        if name in PSEUDO:
            return PSEUDO[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.resources:
            return name  # like sam local: a function's name is its logical id
        raise TemplateError(f"!Ref to unknown name {name!r}")

    def get_att(self, resource: str, attr: str) -> str:
        res = self.resources.get(resource) or {}
        if attr == "Arn" and str(res.get("Type", "")).endswith("::Function"):
            return f"arn:aws:lambda:us-east-1:123456789012:function:{resource}"
        return f"local-{resource}.{attr}"

    def sub(self, value: Any) -> str:
        if isinstance(value, list):
            text, extra = value[0], {k: self.resolve(v) for k, v in (value[1] or {}).items()}
        else:
            text, extra = value, {}

        def one(m: re.Match[str]) -> str:
            name = m.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in extra:
                return str(extra[name])
            if "." in name and name.split(".", 1)[0] not in self.parameters:
                res, attr = name.split(".", 1)
                return self.get_att(res, attr)
            got = self.ref(name)
            return "" if got is None else str(got)

        return re.sub(r"\$\{([^}]+)\}", one, str(text))

    def resolve(self, v: Any) -> Any:
        if isinstance(v, list):
            return [self.resolve(x) for x in v]
        if not isinstance(v, dict):
            return v
        if len(v) == 1:
            (k, arg), = v.items()
            if k == "Ref":
                return self.ref(arg)
            if k == "Fn::GetAtt":
                parts = arg if isinstance(arg, list) else str(arg).split(".", 1)
                return self.get_att(parts[0], parts[1])
            if k == "Fn::Sub":
                return self.sub(arg)
            if k == "Fn::If":
                return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
            if k == "Fn::Equals":
                a, b = (self.resolve(x) for x in arg)
                return str(a) == str(b)
            if k == "Fn::Not":
                return not self.resolve(arg[0])
            if k == "Fn::And":
                return all(self.resolve(x) for x in arg)
            if k == "Fn::Or":
                return any(self.resolve(x) for x in arg)
            if k == "Condition":
                return self.condition(arg)
            if k == "Fn::Join":
                return str(arg[0]).join(str(self.resolve(x)) for x in self.resolve(arg[1]))
            if k == "Fn::Select":
                return self.resolve(arg[1])[int(self.resolve(arg[0]))]
            if k == "Fn::Split":
                return str(self.resolve(arg[1])).split(arg[0])
            if k.startswith("Fn::"):
                return ""  # FindInMap, ImportValue, ...: nothing local to resolve against
        return {k: self.resolve(x) for k, x in v.items()}


def _env_value(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        v = ",".join(str(x) for x in v)
    text = str(v)
    return "" if "{{resolve:" in text else text  # secrets live in AWS only


# --- schedules ---------------------------------------------------------------------------------

_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}


def schedule_seconds(expression: str) -> float:
    """The period of rate(N unit); cron(...) runs every minute at most, so its granularity."""
    m = re.fullmatch(r"\s*rate\(\s*(\d+)\s+(\w+)\s*\)\s*", expression)
    if m:
        unit = m.group(2).lower()
        if unit not in _UNITS:
            raise TemplateError(f"schedule {expression!r}: unknown unit {unit!r}")
        return int(m.group(1)) * _UNITS[unit]
    if re.fullmatch(r"\s*cron\(.*\)\s*", expression):
        fields = expression.strip()[5:-1].split()
        return 60.0 if fields and fields[0] in ("*", "0/1", "*/1") else 3600.0
    raise TemplateError(f"schedule expression {expression!r}: expected rate(...) or cron(...)")


# --- the template ------------------------------------------------------------------------------


def _parameters(doc: dict[str, Any], overrides: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, spec in (doc.get("Parameters") or {}).items():
        spec = spec or {}
        value = overrides.get(name, spec.get("Default", ""))
        if str(spec.get("Type", "")).startswith("List<") or spec.get("Type") == (
            "CommaDelimitedList"
        ):
            value = [x for x in str(value).split(",") if x] if isinstance(value, str) else value
        out[name] = value
    return out


def _api_key_required(props: dict[str, Any], apis: dict[str, Any], res: Resolver) -> bool:
    auth = props.get("Auth") or {}
    if "ApiKeyRequired" in auth:
        return bool(res.resolve(auth["ApiKeyRequired"]))
    api_id = props.get("RestApiId")
    api_name = api_id.get("Ref") if isinstance(api_id, dict) else None
    api_auth = ((apis.get(api_name) or {}).get("Properties") or {}).get("Auth") or {}
    return bool(res.resolve(api_auth.get("ApiKeyRequired", False)))


def _rest_authorizers(apis: dict[str, Any], functions: dict[str, Function],
                      res: Resolver) -> dict[str, tuple[dict[str, Authorizer], str | None]]:
    """Per serverless Api: its Lambda REQUEST authorizers by name, and the default one."""
    out: dict[str, tuple[dict[str, Authorizer], str | None]] = {}
    for api_name, api in apis.items():
        auth = (api.get("Properties") or {}).get("Auth") or {}
        found: dict[str, Authorizer] = {}
        for name, spec in (auth.get("Authorizers") or {}).items():
            fn = _integration_function(str(res.resolve(spec.get("FunctionArn", ""))), functions)
            if fn is None or spec.get("FunctionPayloadType", "TOKEN") != "REQUEST":
                continue  # a Cognito or TOKEN authorizer: not served locally
            ident = spec.get("Identity") or {}
            found[name] = Authorizer(
                name, fn, tuple(str(h) for h in ident.get("Headers") or ()),
                tuple(str(q) for q in ident.get("QueryStrings") or ()),
                int(res.resolve(ident.get("ReauthorizeEvery", 300))))
        default = auth.get("DefaultAuthorizer")
        out[api_name] = (found, str(default) if default else None)
    return out


def _route_authorizer(props: dict[str, Any],
                      rest_auth: dict[str, tuple[dict[str, Authorizer], str | None]]
                      ) -> Authorizer | None:
    api_id = props.get("RestApiId")
    api_name = api_id.get("Ref") if isinstance(api_id, dict) else None
    found, default = rest_auth.get(str(api_name), ({}, None))
    name = (props.get("Auth") or {}).get("Authorizer", default)
    return found.get(str(name)) if name and name != "NONE" else None


def _integration_function(uri: str, functions: dict[str, Function]) -> str | None:
    m = re.search(r"function:([A-Za-z0-9_-]+)", uri)
    if m and m.group(1) in functions:
        return m.group(1)
    return None


def load(
    path: str | Path, parameter_overrides: dict[str, str] | None = None
) -> Template:
    path = Path(path).resolve()
    doc = load_yaml(path)
    params = _parameters(doc, parameter_overrides or {})
    res = Resolver(doc, params)
    resources: dict[str, Any] = doc["Resources"]
    glob = ((doc.get("Globals") or {}).get("Function")) or {}
    glob_env = ((glob.get("Environment") or {}).get("Variables")) or {}
    tpl = Template(path=path, parameters=params)

    apis = {k: v for k, v in resources.items() if v.get("Type") == "AWS::Serverless::Api"}
    for api in apis.values():
        props = api.get("Properties") or {}
        tpl.rest_stage = str(res.resolve(props.get("StageName", "prod")))
        cors = props.get("Cors")
        if isinstance(cors, str):
            cors = {"AllowOrigin": cors}
        for k, v in (cors or {}).items():
            tpl.cors[k] = str(res.resolve(v)).strip("'")

    events: list[tuple[str, str, dict[str, Any]]] = []
    for lid, r in resources.items():
        if r.get("Type") != "AWS::Serverless::Function":
            continue
        if "Condition" in r and not res.condition(r["Condition"]):
            continue
        props = r.get("Properties") or {}
        events += [(lid, name, ev) for name, ev in (props.get("Events") or {}).items()]
        env_vars = {**glob_env, **(((props.get("Environment") or {}).get("Variables")) or {})}
        env = {k: _env_value(res.resolve(v)) for k, v in env_vars.items()}
        code = res.resolve(props.get("CodeUri", glob.get("CodeUri", ".")))
        handler = res.resolve(props.get("Handler", glob.get("Handler", "")))
        if not isinstance(code, str) or not handler:
            raise TemplateError(f"{lid}: CodeUri and Handler are needed to run it locally")
        reserved = res.resolve(props.get("ReservedConcurrentExecutions"))  # may be NoValue
        tpl.functions[lid] = Function(
            logical_id=lid,
            code_dir=(path.parent / code).resolve(),
            handler=str(handler),
            timeout=float(res.resolve(props.get("Timeout", glob.get("Timeout", 3)))),
            memory_mb=int(res.resolve(props.get("MemorySize", glob.get("MemorySize", 128)))),
            environment=env,
            reserved_concurrency=int(reserved) if reserved is not None else None,
        )
    # events once every function is known (an authorizer is a function declared anywhere)
    rest_auth = _rest_authorizers(apis, tpl.functions, res)
    for lid, ev_name, ev in events:
        ev_type, ev_props = ev.get("Type"), ev.get("Properties") or {}
        if ev_type == "Api":
            tpl.routes.append(RestRoute(
                function=lid,
                method=str(res.resolve(ev_props.get("Method", "ANY"))).upper(),
                path=str(res.resolve(ev_props["Path"])),
                event_name=ev_name,
                api_key_required=_api_key_required(ev_props, apis, res),
                authorizer=_route_authorizer(ev_props, rest_auth),
            ))
        elif ev_type in ("Schedule", "ScheduleV2"):
            expr = str(res.resolve(ev_props.get("ScheduleExpression") or
                                   ev_props.get("Schedule") or ""))
            state = str(res.resolve(ev_props.get("State", "ENABLED"))).upper()
            enabled = bool(res.resolve(ev_props.get("Enabled", True))) and state != "DISABLED"
            tpl.schedules.append(Schedule(
                function=lid, event_name=ev_name, expression=expr,
                seconds=schedule_seconds(expr), enabled=enabled,
                payload=res.resolve(ev_props.get("Input")),
            ))

    _websocket(tpl, resources, res)
    return tpl


def _websocket(tpl: Template, resources: dict[str, Any], res: Resolver) -> None:
    ws_api = next((k for k, v in resources.items() if v.get("Type") == "AWS::ApiGatewayV2::Api"
                   and (v.get("Properties") or {}).get("ProtocolType") == "WEBSOCKET"), None)
    if ws_api is None:
        return

    def api_of(props: dict[str, Any]) -> Any:
        a = props.get("ApiId")
        return a.get("Ref") if isinstance(a, dict) else a

    integrations: dict[str, str] = {}
    for lid, r in resources.items():
        props = r.get("Properties") or {}
        if r.get("Type") == "AWS::ApiGatewayV2::Integration" and api_of(props) == ws_api:
            fn = _integration_function(str(res.resolve(props.get("IntegrationUri", ""))),
                                       tpl.functions)
            if fn:
                integrations[lid] = fn
    authorizers: dict[str, Authorizer] = {}
    for lid, r in resources.items():
        props = r.get("Properties") or {}
        if (r.get("Type") == "AWS::ApiGatewayV2::Authorizer" and api_of(props) == ws_api
                and props.get("AuthorizerType") == "REQUEST"):
            fn = _integration_function(str(res.resolve(props.get("AuthorizerUri", ""))),
                                       tpl.functions)
            sources = [str(x) for x in props.get("IdentitySource") or ()]
            if fn:
                authorizers[lid] = Authorizer(
                    lid, fn,
                    tuple(x.rsplit(".", 1)[1] for x in sources
                          if x.startswith("route.request.header.")),
                    tuple(x.rsplit(".", 1)[1] for x in sources
                          if x.startswith("route.request.querystring.")))
    routes: dict[str, str] = {}
    route_ids: dict[str, str] = {}
    route_auth: dict[str, Authorizer] = {}
    replies: set[str] = set()
    for lid, r in resources.items():
        props = r.get("Properties") or {}
        if r.get("Type") == "AWS::ApiGatewayV2::Route" and api_of(props) == ws_api:
            key = str(props["RouteKey"])
            target = str(res.resolve(props.get("Target", "")))
            integ = target.split("/", 1)[1] if target.startswith("integrations/") else ""
            if integ in integrations:
                routes[key] = integrations[integ]
                route_ids[lid] = key
            auth_id = props.get("AuthorizerId")
            auth_id = auth_id.get("Ref") if isinstance(auth_id, dict) else auth_id
            if props.get("AuthorizationType") == "CUSTOM" and auth_id in authorizers:
                route_auth[key] = authorizers[auth_id]
    for r in resources.values():
        props = r.get("Properties") or {}
        if r.get("Type") == "AWS::ApiGatewayV2::RouteResponse" and api_of(props) == ws_api:
            rid = props.get("RouteId")
            rid = rid.get("Ref") if isinstance(rid, dict) else rid
            if rid in route_ids:
                replies.add(route_ids[rid])
    stage = "prod"
    for r in resources.values():
        props = r.get("Properties") or {}
        if r.get("Type") == "AWS::ApiGatewayV2::Stage" and api_of(props) == ws_api:
            stage = str(res.resolve(props.get("StageName", "prod")))
    selection = str((resources[ws_api].get("Properties") or {}).get(
        "RouteSelectionExpression", "$request.body.action"))
    tpl.websocket = WebSocketApi(ws_api, selection, routes, frozenset(replies), stage,
                                 route_auth)
