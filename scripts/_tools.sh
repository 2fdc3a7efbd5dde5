# Sourced by scripts and tests that need AWS SAM CLI: makes the tools venv .tools/sam (SAM CLI
# pins boto3 and friends, so it never goes into .venv) and installs SAM CLI into it, again
# whenever SAM_CLI_VERSION changes. Afterwards $SAM is the `sam` binary and $SAM_PYTHON the
# venv's python (for scripts that import samcli). `sam build` without a container also needs
# the functions' runtime python (python3.13) on PATH: the pyenv one is added when found.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools/sam"
SAM_CLI_VERSION="${SAM_CLI_VERSION:-1.170.0}"
RUNTIME_PYTHON="${RUNTIME_PYTHON:-python3.13}"

tools_python() {
  for py in "${TOOLS_PYTHON:-}" python3.12 python3.11 python3.13 python3; do
    [ -n "$py" ] || continue
    command -v "$py" >/dev/null 2>&1 || continue
    if "$py" -c 'import sys; sys.exit(not (3, 9) <= sys.version_info[:2] < (3, 14))' 2>/dev/null
    then
      echo "$py"; return 0
    fi
  done
  echo "SAM CLI needs Python 3.9-3.13 (set TOOLS_PYTHON=/path/to/python)" >&2
  return 1
}

if [ ! -x "$TOOLS/bin/python" ]; then
  echo "==> creating $TOOLS" >&2
  "$(tools_python)" -m venv "$TOOLS"
  "$TOOLS/bin/python" -m pip install -q --upgrade pip >&2
fi
if [ "$(cat "$TOOLS/.sam-version" 2>/dev/null || true)" != "$SAM_CLI_VERSION" ]; then
  echo "==> installing aws-sam-cli==$SAM_CLI_VERSION into $TOOLS" >&2
  "$TOOLS/bin/python" -m pip install -q "aws-sam-cli==$SAM_CLI_VERSION" >&2
  echo "$SAM_CLI_VERSION" > "$TOOLS/.sam-version"
fi

runtime_ok() { "$RUNTIME_PYTHON" -c 'import sys' >/dev/null 2>&1; }
if ! runtime_ok; then  # missing, or a pyenv shim with no 3.13 selected
  for dir in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin; do
    if [ -x "$dir/$RUNTIME_PYTHON" ]; then PATH="$dir:$PATH"; break; fi
  done
fi
export PATH="$TOOLS/bin:$PATH"
export SAM="$TOOLS/bin/sam" SAM_PYTHON="$TOOLS/bin/python"
export SAM_CLI_TELEMETRY=0 SAM_CLI_CONTACT_SERVER=0
