#!/usr/bin/env bash
# Set up and run the portal on a fresh machine with the embedded SQLite database (idempotent):
# system packages, .venv, database and CA hierarchies under instance/, first admin, then serve.
# Environment: see docs/configuration.md (REGISTRY_* variables); HOST and PORT choose where to listen.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-system-deps.sh
. scripts/_venv.sh
.venv/bin/registry init
exec .venv/bin/registry serve --host "${HOST:-127.0.0.1}" --port "${PORT:-5000}"
