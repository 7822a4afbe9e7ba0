#!/usr/bin/env bash
# One-off, idempotent set-up of what benchmarks/bench_serve.py compares geosvc with (Debian 12, root):
#   - Debian: wrk, gdal-bin (ogr2ogr loads PostGIS), PostgreSQL 15 + PostGIS 3, PyQGIS (QGIS load time);
#   - .venv-pygeoapi: stock pygeoapi 0.24 with its PostgreSQL provider deps (baselines/requirements-pygeoapi.lock);
#   - .venv-tipg: tipg (baselines/requirements-tipg.lock).
# The project venv (scripts/setup.sh) runs geosvc and the benchmark driver; the baselines use its Python.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bash scripts/apt-ensure.sh wrk gdal-bin postgresql postgresql-15-postgis-3 python3-qgis qgis-providers

py=$(.venv/bin/python -c 'import sys; print(sys._base_executable)')
for name in pygeoapi tipg; do
  venv=".venv-$name"
  lock="benchmarks/baselines/requirements-$name.lock"
  if [[ ! -f $venv/.installed || $lock -nt $venv/.installed ]]; then
    echo "setup_baselines: installing $venv from $lock"
    [[ -x $venv/bin/python ]] || "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install -q -r "$lock"
    touch "$venv/.installed"
  fi
done
echo "setup_baselines: ready (run: .venv/bin/python benchmarks/bench_serve.py --write)"
