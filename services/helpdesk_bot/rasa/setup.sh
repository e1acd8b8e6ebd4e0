#!/usr/bin/env bash
# Create the bot's Python 3.10 environment (.venv-rasa at the repo root) and train
# the Rasa model into services/helpdesk_bot/rasa/models/ when its inputs changed.
# Idempotent: a second run with nothing changed takes well under a second.
#
#   bash services/helpdesk_bot/rasa/setup.sh          # env + model
#   FORCE_TRAIN=1 bash services/helpdesk_bot/rasa/setup.sh
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
VENV="$ROOT/.venv-rasa"
MODELS="$HERE/models"
export RASA_TELEMETRY_ENABLED=false
# Rasa's training cache (reused by incremental retrains) lives outside the source tree.
export RASA_CACHE_DIRECTORY="${RASA_CACHE_DIRECTORY:-$VENV/.rasa-cache}"

# --- uv --------------------------------------------------------------------
UV="${UV:-}"
if [ -z "$UV" ]; then
  if [ -x "$ROOT/.tools/bin/uv" ]; then UV="$ROOT/.tools/bin/uv"; else UV="$(command -v uv || true)"; fi
fi
[ -n "$UV" ] || { echo "setup.sh: uv not found (run 'make setup' first)" >&2; exit 1; }

sha() { sha256sum "$@" | sha256sum | cut -c1-16; }

# --- environment -----------------------------------------------------------
req_hash="$(sha "$HERE/requirements.txt" "$HERE/requirements-vectors.txt")"
if [ "$(cat "$VENV/.otasuke-requirements" 2>/dev/null || true)" != "$req_hash" ]; then
  py="${RASA_PYTHON:-}"
  if [ -z "$py" ] && command -v pyenv >/dev/null 2>&1; then
    py="$(ls -d "$(pyenv root)"/versions/3.10.*/bin/python3.10 2>/dev/null | sort -V | tail -1 || true)"
  fi
  [ -n "$py" ] || py="$(command -v python3.10 || true)"
  if [ -z "$py" ]; then
    # No local 3.10: let uv fetch a managed interpreter.
    "$UV" python install 3.10
    py="3.10"
  fi
  [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' \
    || "$UV" venv --quiet --python "$py" "$VENV"
  "$UV" pip sync --quiet --python "$VENV/bin/python" "$HERE/requirements.txt"
  "$UV" pip install --quiet --no-deps --python "$VENV/bin/python" -r "$HERE/requirements-vectors.txt"
  echo "$req_hash" > "$VENV/.otasuke-requirements"
fi

# --- model -----------------------------------------------------------------
# What the model depends on: pipeline, domain, training data, our NLU components, the pinned libraries.
inputs=("$HERE/config.yml" "$HERE/domain.yml" "$HERE/requirements.txt" "$HERE/requirements-vectors.txt")
while IFS= read -r f; do inputs+=("$f"); done < <(find "$HERE/data" "$HERE/otasuke_rasa" -type f \( -name '*.yml' -o -name '*.py' \) ! -name nats_broker.py | sort)
model_hash="$(sha "${inputs[@]}")"
mkdir -p "$MODELS"
# Several callers (make test, make run, other sessions) may run this at once: one trains, the others wait.
exec 9>"$MODELS/.lock"
flock 9
if [ "${FORCE_TRAIN:-0}" = 1 ] || [ "$(cat "$MODELS/.stamp" 2>/dev/null || true)" != "$model_hash" ] || [ ! -f "$MODELS/helpdesk.tar.gz" ]; then
  echo "setup.sh: training the help-desk bot model (its data changed; this takes several minutes the first time)"
  (cd "$HERE" && PYTHONWARNINGS=ignore PYTHONPATH="$HERE${PYTHONPATH:+:$PYTHONPATH}" "$VENV/bin/rasa" train \
      --config config.yml --domain domain.yml --data data \
      --out "$MODELS.tmp.$$" --fixed-model-name helpdesk --quiet)
  # Publish the new model atomically: a running Rasa server or test never sees half a file.
  mv "$MODELS.tmp.$$/helpdesk.tar.gz" "$MODELS/helpdesk.tar.gz"
  rm -rf "$MODELS.tmp.$$"
  echo "$model_hash" > "$MODELS/.stamp"
fi
