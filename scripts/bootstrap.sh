# Sourced by scripts/quickstart and scripts/test: make .venv and install the project.
# EXTRAS selects optional dependency groups (e.g. "[test]").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "shop-access needs Python 3.11 or newer ($PYTHON is $("$PYTHON" --version 2>&1))" >&2
  exit 2
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.installed${EXTRAS:-}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "Installing shop-access${EXTRAS:-} into .venv (log: var/pip.log)..."
  mkdir -p var
  if ! { .venv/bin/python -m pip install --upgrade pip \
         && .venv/bin/python -m pip install -e ".${EXTRAS:-}"; } >var/pip.log 2>&1; then
    tail -n 30 var/pip.log >&2
    echo "Installing failed; the whole log is in var/pip.log" >&2
    exit 1
  fi
  touch "$stamp"
fi
