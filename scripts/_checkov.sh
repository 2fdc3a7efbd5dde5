# Sourced by the test that runs checkov on template.yaml: makes the tools venv .tools/checkov
# (checkov pins its own boto3, pydantic and friends, so it goes into neither .venv nor the SAM
# CLI venv) and installs checkov into it, again whenever CHECKOV_VERSION changes. Afterwards
# $CHECKOV is the `checkov` binary; run it offline (--skip-download).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHECKOV_TOOLS="$ROOT/.tools/checkov"
CHECKOV_VERSION="${CHECKOV_VERSION:-3.3.30}"

source "$ROOT/scripts/_tools_venv.sh"
tools_venv "$CHECKOV_TOOLS" checkov "$CHECKOV_VERSION"
export CHECKOV="$CHECKOV_TOOLS/bin/checkov"
# offline: no Bridgecrew platform, no update check, no telemetry
export BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false
