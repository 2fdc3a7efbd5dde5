# Sourced by the test that runs checkov on template.yaml: makes the tools venv .tools/checkov
# (checkov pins its own boto3, pydantic and friends, so it goes into neither .venv nor the SAM
# CLI venv) and installs checkov into it, again whenever CHECKOV_VERSION changes. Afterwards
# $CHECKOV is the `checkov` binary; run it offline (--skip-download).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHECKOV_TOOLS="$ROOT/.tools/checkov"
CHECKOV_VERSION="${CHECKOV_VERSION:-3.3.30}"

checkov_python() {
  for py in "${TOOLS_PYTHON:-}" python3.12 python3.11 python3.13 python3; do
    [ -n "$py" ] || continue
    command -v "$py" >/dev/null 2>&1 || continue
    if "$py" -c 'import sys; sys.exit(not (3, 9) <= sys.version_info[:2] < (3, 14))' 2>/dev/null
    then
      echo "$py"; return 0
    fi
  done
  echo "checkov needs Python 3.9-3.13 (set TOOLS_PYTHON=/path/to/python)" >&2
  return 1
}

if [ ! -x "$CHECKOV_TOOLS/bin/python" ]; then
  echo "==> creating $CHECKOV_TOOLS" >&2
  "$(checkov_python)" -m venv "$CHECKOV_TOOLS"
  "$CHECKOV_TOOLS/bin/python" -m pip install -q --upgrade pip >&2
fi
if [ "$(cat "$CHECKOV_TOOLS/.checkov-version" 2>/dev/null || true)" != "$CHECKOV_VERSION" ]; then
  echo "==> installing checkov==$CHECKOV_VERSION into $CHECKOV_TOOLS" >&2
  "$CHECKOV_TOOLS/bin/python" -m pip install -q "checkov==$CHECKOV_VERSION" >&2
  echo "$CHECKOV_VERSION" > "$CHECKOV_TOOLS/.checkov-version"
fi
export CHECKOV="$CHECKOV_TOOLS/bin/checkov"
# offline: no Bridgecrew platform, no update check, no telemetry
export BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false
