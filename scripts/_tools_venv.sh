# Sourced by _tools.sh and _checkov.sh: tools_venv DIR PACKAGE VERSION makes the venv DIR (with
# a Python 3.9-3.13: TOOLS_PYTHON, else the first one found) and installs PACKAGE==VERSION into
# it, again whenever VERSION changes. A tool with its own pins (boto3, pydantic, ...) lives in a
# venv of its own, never in .venv.
tools_python() {
  for py in "${TOOLS_PYTHON:-}" python3.12 python3.11 python3.13 python3; do
    [ -n "$py" ] || continue
    command -v "$py" >/dev/null 2>&1 || continue
    if "$py" -c 'import sys; sys.exit(not (3, 9) <= sys.version_info[:2] < (3, 14))' 2>/dev/null
    then
      echo "$py"; return 0
    fi
  done
  echo "$1 needs Python 3.9-3.13 (set TOOLS_PYTHON=/path/to/python)" >&2
  return 1
}

tools_venv() {  # tools_venv DIR PACKAGE VERSION
  local dir="$1" package="$2" version="$3"
  if [ ! -x "$dir/bin/python" ]; then
    echo "==> creating $dir" >&2
    "$(tools_python "$package")" -m venv "$dir"
    "$dir/bin/python" -m pip install -q --upgrade pip >&2
  fi
  if [ "$(cat "$dir/.version" 2>/dev/null || true)" != "$version" ]; then
    echo "==> installing $package==$version into $dir" >&2
    "$dir/bin/python" -m pip install -q "$package==$version" >&2
    echo "$version" > "$dir/.version"
  fi
}
