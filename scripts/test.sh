#!/usr/bin/env bash
# Set up (including the real clients: GDAL, PyQGIS, Chromium, ogctests, PostgreSQL/PostGIS) and run the whole
# test suite on the embedded store, then the store-dependent tests on PostGIS.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
# Pass 1: every test on the embedded store. Pass 2: the store-dependent tests on PostGIS (a throw-away
# cluster for the run, see tests/support/postgis.py; modules that open no layer store are marked
# ``store_free`` and skip there). Arguments (e.g. a test path) go to both passes.
pytest=(.venv/bin/python -m pytest -n 2 --dist loadgroup --timeout 900)
status=0
"${pytest[@]}" "$@" || status=$?
if (( $# )); then
  GEOSVC_TEST_STORE=postgis "${pytest[@]}" "$@" || status=$?
else
  GEOSVC_TEST_STORE=postgis "${pytest[@]}" tests/store tests/ogc tests/api tests/equity tests/clients tests/cli tests/tiles \
    tests/records tests/auth tests/live tests/feeds tests/metadata tests/portal || status=$?
fi
exit $status
