#!/usr/bin/env bash
# Print the path of a Python >= 3.12 (pygeoapi 0.24 needs it): python3.13/python3.12 on PATH, or pyenv's build.
set -euo pipefail
for candidate in python3.13 python3.12 /root/.pyenv/versions/3.12*/bin/python3.12; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null; then
    command -v "$candidate"; exit 0
  fi
done
echo "Python >= 3.12 not found (install python3.12)" >&2
exit 1
