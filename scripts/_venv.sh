# Sourced by the set-up scripts: make .venv with Python 3.11+ and install the project into it.
# Usage: . scripts/_venv.sh [extras]
set -euo pipefail
PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Python 3.11 or newer is needed (found: $("$PY" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv || { echo "python3 -m venv failed: apt-get install python3-venv" >&2; exit 1; }
fi
stamp=".venv/.installed-${1:-base}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e ".${1:+[$1]}"
  touch "$stamp"
fi
# the portal's message catalogs (registry/translations/*/LC_MESSAGES/messages.po) → .mo
.venv/bin/python -c "from registry.web.i18n import compile_catalogs; compile_catalogs()"
