#!/usr/bin/env bash
# The whole test suite: what `make test` and CI run.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONDONTWRITEBYTECODE=1 RASA_TELEMETRY_ENABLED=false
scripts/ensure-system-deps.sh
# A private temp root, so two runs on one machine never share embedded servers' directories.
basetemp="$(mktemp -d /tmp/otasuke-test.XXXXXX)"
chmod 755 "$basetemp"
trap 'rm -rf "$basetemp"' EXIT
.venv/bin/python -m pytest --basetemp="$basetemp" "$@"
