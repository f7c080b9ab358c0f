#!/usr/bin/env bash
# Regenerate the lock files from pyproject.toml (see docs/operations.md, "The lock files"):
#   requirements.lock          the runtime and test dependencies (the test extra) and the build backend
#   requirements-runtime.lock  the runtime dependencies and the build backend only, at the same versions
# Exact versions with the sha256 hashes of every file PyPI has for them, resolved for this machine's
# Python (3.11, linux x86_64). Pins already in requirements.lock are kept; to move one, edit or delete
# its lines first, or pass pip-compile's options through: scripts/lock.sh --upgrade-package Pillow.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
"$PY" -m venv "$tools/venv"
"$tools/venv/bin/python" -m pip install -q pip==26.3 pip-tools==7.7.0
compile=("$tools/venv/bin/python" -m piptools compile --quiet --generate-hashes --allow-unsafe --strip-extras
  --all-build-deps --no-emit-index-url --no-emit-find-links)
export CUSTOM_COMPILE_COMMAND=scripts/lock.sh   # what the files' headers name
touch requirements.lock
"${compile[@]}" --extra test --output-file requirements.lock "$@" pyproject.toml
# the runtime subset, from the full lock's pins so that both name the same versions
cp requirements.lock requirements-runtime.lock
"${compile[@]}" --output-file requirements-runtime.lock pyproject.toml
