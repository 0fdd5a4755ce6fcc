#!/usr/bin/env bash
# Runs pytest headless in an isolated QGIS configuration (never the user's own settings).
set -euo pipefail
cd "$(dirname "$0")/.."
export QT_QPA_PLATFORM=offscreen
scratch=$(mktemp -d /tmp/imis-test-home.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
export XDG_CONFIG_HOME="$scratch/config" XDG_DATA_HOME="$scratch/data" XDG_CACHE_HOME="$scratch/cache"
export XDG_RUNTIME_DIR="$scratch/runtime" && mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
export IMIS_TEST_OUTPUT="${IMIS_TEST_OUTPUT:-$PWD/tests/output}"
rm -rf .qgis-settings  # pytest-qgis keeps QGIS settings there: start each run clean
exec .venv/bin/python -m pytest "${@:-tests}"
