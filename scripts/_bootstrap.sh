# Sourced by the scripts in this folder: makes .venv (Python 3.11+) and installs into it exactly
# what requirements.lock pins (every file checked against its hash), then BoltQ itself from the
# checkout (no dependencies of its own, no build isolation: its build backend is in the lock
# too); again whenever requirements.lock or pyproject.toml changes. ./scripts/lock rewrites the
# lock after a dependency changes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
LOCK="$ROOT/requirements.lock"

find_python() {
  for py in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$py" ] || continue
    command -v "$py" >/dev/null 2>&1 || continue
    if "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$py"; return 0
    fi
  done
  echo "BoltQ needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)" >&2
  return 1
}

if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating $VENV"
  "$(find_python)" -m venv "$VENV"  # its pip is upgraded from the lock, hashed
fi
STAMP="$VENV/.boltq-installed"
WANT="$("$VENV/bin/python" -c 'import hashlib, sys
print(hashlib.sha256(b"".join(open(p, "rb").read() for p in sys.argv[1:])).hexdigest())' \
  "$LOCK" "$ROOT/pyproject.toml")"
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$WANT" ]; then
  echo "==> installing BoltQ's locked dependencies (requirements.lock) into .venv"
  "$VENV/bin/python" -m pip install -q --require-hashes -r "$LOCK"
  "$VENV/bin/python" -m pip install -q --no-deps --no-build-isolation -e "$ROOT"
  echo "$WANT" > "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
