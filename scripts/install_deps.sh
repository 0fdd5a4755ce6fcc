#!/usr/bin/env bash
# Installs what the plugin's build, demo and tests need on Debian 12, only what is missing.
#   scripts/install_deps.sh runtime   QGIS 3.22 + psycopg2 + openpyxl + build tools (make demo, package)
#   scripts/install_deps.sh test      runtime + PostgreSQL 15/PostGIS 3.3 + test venv (.venv)
set -euo pipefail
mode=${1:-test}
cd "$(dirname "$0")/.."

runtime_pkgs=(qgis python3-qgis qgis-providers python3-psycopg2 python3-openpyxl python3-gdal python3-pyproj
              pyqt5-dev-tools python3-venv zip make)
test_pkgs=(postgresql-15 postgresql-15-postgis-3 postgresql-client-15 xvfb poppler-utils)
pkgs=("${runtime_pkgs[@]}")
[ "$mode" = test ] || [ "$mode" = bench ] && pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$mode" = test ] || [ "$mode" = bench ]; then
  if [ ! -x .venv/bin/python ]; then
    /usr/bin/python3 -m venv --system-site-packages .venv
  fi
  if ! .venv/bin/python -c "import pytest_qgis" 2>/dev/null || \
     ! cmp -s requirements-test.txt .venv/.requirements-test.txt; then
    .venv/bin/pip install -q --disable-pip-version-check -r requirements-test.txt
    cp requirements-test.txt .venv/.requirements-test.txt
  fi
fi
