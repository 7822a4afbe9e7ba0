#!/usr/bin/env bash
# One-off, idempotent set-up of what benchmarks/bench_serve.py compares geosvc with (Debian 12, root):
#   - Debian: wrk, gdal-bin (ogr2ogr loads PostGIS), PostgreSQL 15 + PostGIS 3, PyQGIS (QGIS load time);
#   - .venv-pygeoapi: stock pygeoapi 0.24 with its PostgreSQL provider deps (pinned in baselines/requirements-pygeoapi.lock);
#   - .venv-tipg: tipg (pinned in baselines/requirements-tipg.lock).
# The project venv (.venv, scripts/setup.sh) runs geosvc and the benchmark driver itself.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(wrk gdal-bin postgresql postgresql-15-postgis-3 python3-qgis qgis-providers)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if (( ${#missing[@]} )); then
  echo "setup_baselines: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

py=""
for candidate in python3.13 python3.12 /root/.pyenv/versions/3.12*/bin/python3.12; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null; then
    py=$(command -v "$candidate"); break
  fi
done
[[ -n "$py" ]] || { echo "setup_baselines: Python >= 3.12 not found" >&2; exit 1; }

for name in pygeoapi tipg; do
  venv=".venv-$name"
  lock="benchmarks/baselines/requirements-$name.lock"
  stamp="$venv/.installed"
  if [[ ! -f $stamp || $lock -nt $stamp ]]; then
    echo "setup_baselines: installing $venv from $lock"
    [[ -x $venv/bin/python ]] || "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install -q -r "$lock"
    touch "$stamp"
  fi
done
echo "setup_baselines: ready (run: .venv/bin/python benchmarks/bench_serve.py --write)"
