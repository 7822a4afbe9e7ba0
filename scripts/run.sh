#!/usr/bin/env bash
# Set everything up, validate and publish the sample catalog, then serve it at http://127.0.0.1:5000
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/geosvc validate || echo "run: some layers have validation errors; they are not published (see above)"
.venv/bin/geosvc publish || echo "run: some layers were not published (see above)"
.venv/bin/geosvc report
exec .venv/bin/geosvc serve --host "${GEOSVC_HOST:-127.0.0.1}" --port "${GEOSVC_PORT:-5000}"
