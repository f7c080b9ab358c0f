#!/usr/bin/env bash
# Install the test dependencies and run the whole suite (idempotent).
# Database tests run on SQLite, and also on PostgreSQL when REGISTRY_TEST_POSTGRES_URL is set
# (e.g. postgresql://postgres@127.0.0.1:5432/test). Extra arguments go to pytest.
#   --quick   leave out the tests marked slow (the property tests / fuzzers, the gunicorn boot):
#             pytest -m "not slow". Without it everything runs, as in CI. (A -m of your own given
#             after --quick replaces it.)
set -euo pipefail
cd "$(dirname "$0")/.."
args=()
for arg in "$@"; do
    if [[ "$arg" == "--quick" ]]; then
        args+=(-m "not slow")
    else
        args+=("$arg")
    fi
done
scripts/install-system-deps.sh chromium   # Chromium for the browser tests (tests/browser, Playwright)
. scripts/_venv.sh test
exec .venv/bin/python -m pytest ${args[@]+"${args[@]}"}
