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

source "$ROOT/scripts/_tools_venv.sh"
tools_venv "$TOOLS" aws-sam-cli "$SAM_CLI_VERSION"

runtime_ok() { "$RUNTIME_PYTHON" -c 'import sys' >/dev/null 2>&1; }
if ! runtime_ok; then  # missing, or a pyenv shim with no 3.13 selected
  for dir in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin; do
    if [ -x "$dir/$RUNTIME_PYTHON" ]; then PATH="$dir:$PATH"; break; fi
  done
fi
export PATH="$TOOLS/bin:$PATH"
export SAM="$TOOLS/bin/sam" SAM_PYTHON="$TOOLS/bin/python"
export SAM_CLI_TELEMETRY=0 SAM_CLI_CONTACT_SERVER=0
