#!/usr/bin/env bash
# Install geosvc the way it is deployed: the pinned dependencies, then geosvc's wheel built from SOURCE.
#   scripts/install-wheel.sh SOURCE PYTHON WHEEL_DIR
# PYTHON is the environment to install into (a venv's python). The Dockerfile runs exactly this, and
# tests/test_packaging.py runs it into a fresh venv outside the checkout.
set -euo pipefail
source_dir=$1 python=$2 wheel_dir=$3
"$python" -m pip install -r "$source_dir/requirements.lock"   # includes `build`
"$python" -m build --wheel --outdir "$wheel_dir" "$source_dir"
"$python" -m pip install --no-deps "$wheel_dir"/geosvc-*.whl
