#!/usr/bin/env bash
# Idempotent set-up on a fresh machine of this kind (Debian 12, root, apt + PyPI reachable).
#   scripts/setup.sh          system packages + .venv with geosvc (what `scripts/run.sh` needs)
#   scripts/setup.sh --test   also the real clients the tests drive (GDAL, PyQGIS, Chromium) and ogctests
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

apt_packages=(ca-certificates)
if (( want_test )); then
  apt_packages+=(gdal-bin python3-qgis qgis-providers chromium xvfb cgi-mapserver postgresql postgresql-15-postgis-3)
fi
bash scripts/apt-ensure.sh "${apt_packages[@]}"

py=$(bash scripts/find-python.sh)

stamp=.venv/.geosvc-installed
if [[ ! -x .venv/bin/python ]]; then
  echo "setup: creating .venv with $py"
  "$py" -m venv .venv
fi
if [[ ! -f $stamp || requirements.lock -nt $stamp || pyproject.toml -nt $stamp ]]; then
  echo "setup: installing pinned Python dependencies (requirements.lock)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements.lock
  .venv/bin/python -m pip install -q --no-deps -e .
  touch "$stamp"
fi

if (( want_test )); then
  # ogctests pins httpx<0.28 and pytest<9: it lives in a venv of its own.
  if [[ ! -x .venv-ogctests/bin/pytest ]]; then
    echo "setup: creating .venv-ogctests"
    "$py" -m venv .venv-ogctests
    .venv-ogctests/bin/python -m pip install -q -r requirements-ogctests.lock
  fi
fi
echo "setup: ready"
