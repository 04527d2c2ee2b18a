#!/usr/bin/env bash
# System packages the test suite needs beyond Python: Debian's chromium (dashboard tests in a real
# browser) and buildah, podman, runc, debootstrap (the container image is built and run for real).
# Idempotent: installs only what is missing. Needs root (or sudo) and Debian's package registry.
set -euo pipefail
# Azurite (Microsoft's Azure Storage emulator, npm): the Storage queue of the event tests (tests/test_events_azure.py)
if [ ! -x "$(dirname "$0")/../demo/azurite/node_modules/.bin/azurite-queue" ]; then
  (cd "$(dirname "$0")/../demo/azurite" && npm ci --no-audit --no-fund --silent)
fi
packages=(chromium buildah podman runc debootstrap postgresql)
commands=(chromium buildah podman runc debootstrap pg_ctlcluster)
missing=()
for i in "${!packages[@]}"; do
  command -v "${commands[$i]}" >/dev/null 2>&1 || missing+=("${packages[$i]}")
done
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
echo "installing system packages: ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
