# Sourced by the set-up scripts: make .venv with Python 3.11+ and install the project into it from the
# lock files (exact versions, sha256-checked; scripts/lock.sh makes them, docs/operations.md says how).
# Usage: . scripts/_venv.sh [test]
#   (nothing)  the runtime dependencies (requirements-runtime.lock): scripts/portal.sh
#   test       the runtime and test dependencies (requirements.lock): scripts/test.sh, .ci/run
set -euo pipefail
PY=${PYTHON:-python3}
case "${1:-}" in
  "") lock=requirements-runtime.lock ;;
  test) lock=requirements.lock ;;
  *) echo "scripts/_venv.sh: unknown set-up '$1' (test, or nothing for the runtime only)" >&2; exit 1 ;;
esac
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Python 3.11 or newer is needed (found: $("$PY" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv || { echo "python3 -m venv failed: apt-get install python3-venv" >&2; exit 1; }
fi
stamp=".venv/.installed-${1:-base}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ "$lock" -nt "$stamp" ]; then
  # every package at its locked version, each file checked against its hash; the build backend
  # (setuptools, wheel) is in the lock too, so the project builds without fetching anything unchecked
  .venv/bin/python -m pip install -q --require-hashes -r "$lock"
  .venv/bin/python -m pip install -q --no-deps --no-build-isolation -e .
  touch "$stamp"
fi
# the portal's message catalogs (registry/translations/*/LC_MESSAGES/messages.po) → .mo
.venv/bin/python -c "from registry.web.i18n import compile_catalogs; compile_catalogs()"
