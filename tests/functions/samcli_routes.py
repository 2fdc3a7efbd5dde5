"""Run inside the SAM CLI tools venv: parse template.yaml with SAM CLI's own providers (the ones
`sam local start-api` uses) and print the functions and REST routes it finds, as JSON."""

import json
import sys

from samcli.commands.local.cli_common.user_exceptions import InvalidSamTemplateException
from samcli.lib.providers.api_provider import ApiProvider
from samcli.lib.providers.provider import Stack
from samcli.lib.providers.sam_function_provider import SamFunctionProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

template = sys.argv[1]
try:
    stacks, _ = SamLocalStackProvider.get_stacks(template)
except InvalidSamTemplateException as exc:
    print(json.dumps({"error": str(exc)}))
    sys.exit(1)
functions = SamFunctionProvider(stacks)
api = ApiProvider(stacks)
print(json.dumps({
    "stacks": [s.stack_path for s in stacks if isinstance(s, Stack)],
    "functions": {f.name: {"handler": f.handler, "codeuri": f.codeuri, "timeout": f.timeout,
                           "layers": [layer.name for layer in f.layers]}
                  for f in functions.get_all()},
    "routes": sorted({(m, r.path, r.function_name) for r in api.routes for m in r.methods}),
}))
