#!/usr/bin/env bash
# Debian/Ubuntu packages the project needs, installed only if missing (idempotent):
#   fonts-noto-cjk  CJK font for drawing seal pictures (Noto Serif CJK SC)
#   openssl         independent checks of our certificates and signatures in the tests
# scripts/test.sh adds chromium (/usr/bin/chromium, driven by Playwright in tests/browser).
# Usage: scripts/install-system-deps.sh [extra-package ...]
set -euo pipefail

packages=(fonts-noto-cjk openssl "$@")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "scripts/install-system-deps.sh: need root (or sudo) to install: ${missing[*]}" >&2
  exit 1
fi
echo "installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends "${missing[@]}" >/dev/null
