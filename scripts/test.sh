#!/usr/bin/env bash
# Set up (including the real clients: GDAL, PyQGIS, Chromium, ogctests) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
exec .venv/bin/python -m pytest -n 2 --dist loadgroup --timeout 900 "$@"
