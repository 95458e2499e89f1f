#!/usr/bin/env bash
# Set up everything the platform needs, idempotently:
#   scripts/setup.sh          the platform (venv, Python packages, Leaflet)
#   scripts/setup.sh --test   also what the tests need (test packages, Chromium)
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=0
apt_install() {
  if [ "$apt_updated" -eq 0 ]; then
    as_root apt-get update -qq
    apt_updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# 1. A virtual environment (Debian's python3 needs python3-venv for it).
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  if ! python3 -m venv .venv 2>/dev/null; then
    rm -rf .venv
    apt_install python3-venv
    python3 -m venv .venv
  fi
  .venv/bin/python -m pip install -q --upgrade pip
fi

# 2. Python packages, as pyproject.toml lists them.
extras=()
[ "$want_test" -eq 1 ] && extras=(test)
mapfile -t packages < <(.venv/bin/python scripts/requirements.py "${extras[@]}")
echo "==> installing ${#packages[@]} Python packages"
.venv/bin/python -m pip install -q "${packages[@]}"

# 3. Leaflet from npm, copied into the static files the platform serves
#    itself (never a CDN), so that the service worker can cache it too.
if [ ! -f node_modules/leaflet/dist/leaflet-src.esm.js ]; then
  echo "==> installing Leaflet from npm"
  npm ci --no-audit --no-fund --loglevel=error
fi
vendor=pwa/static/vendor/leaflet
if ! cmp -s node_modules/leaflet/dist/leaflet-src.esm.js "$vendor/leaflet-src.esm.js"; then
  rm -rf "$vendor"
  mkdir -p "$(dirname "$vendor")"
  cp -r node_modules/leaflet/dist "$vendor"
fi

# 4. For the tests: Debian's Chromium, driven by Playwright, and nginx, which
# tests/test_nginx.py runs with config/nginx.example.conf in front of two
# processes.
if [ "$want_test" -eq 1 ] && [ ! -x /usr/bin/chromium ]; then
  echo "==> installing Chromium"
  apt_install chromium
fi
if [ "$want_test" -eq 1 ] && [ ! -x /usr/sbin/nginx ]; then
  echo "==> installing nginx"
  # The tests run their own nginx; a package script that cannot start the
  # system's service (no init in a container) does not matter to them.
  apt_install nginx-light || [ -x /usr/sbin/nginx ]
fi
echo "==> set-up complete"
