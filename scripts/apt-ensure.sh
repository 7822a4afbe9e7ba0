#!/usr/bin/env bash
# Install the named Debian packages that are not installed yet (root; runs `apt-get update` first).
#   bash scripts/apt-ensure.sh PACKAGE...
set -euo pipefail
missing=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
(( ${#missing[@]} )) || exit 0
echo "apt-ensure: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
