#!/usr/bin/env bash
# Installs the system libraries lychee-rerank builds against (Debian/Ubuntu, as root or with sudo).
# Safe to run again: packages already present are left alone.
set -euo pipefail
# chromium: the web page's headless-browser test (make test); wrk: scripts/load-test.sh; curl: both scripts.
packages=(libjpeg62-turbo-dev libpng-dev libwebp-dev libgif-dev libopenblas-dev zlib1g-dev pkg-config chromium wrk curl)
if grep -qi ubuntu /etc/os-release 2>/dev/null; then packages[0]=libjpeg-turbo8-dev; fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then echo "system packages: all present"; exit 0; fi
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
