# Otasuke: one command to run, one to test.
#   make run    start the whole stack locally (embedded NATS JetStream + PostgreSQL, all services)
#   make test   run the whole test suite
# Both set up what they need on first use (uv, .venv) and are fast afterwards.

PYTHON ?= python3
TOOLS  := .tools
UV     := $(TOOLS)/bin/uv
VENV   := .venv
STAMP  := $(VENV)/.synced

.PHONY: run test test-cluster setup rasa manifests clean bench

setup: $(STAMP) rasa

# The help desk's Rasa bot lives in its own Python 3.10 environment (.venv-rasa);
# the script is idempotent and retrains the model only when its inputs changed.
rasa: $(STAMP)
	@UV=$(CURDIR)/$(UV) bash services/helpdesk_bot/rasa/setup.sh

$(UV):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed (set PYTHON=...)")'
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv

# `uv sync` re-locks only when a pyproject changed, so this is quick when nothing did.
$(STAMP): $(UV) pyproject.toml $(wildcard uv.lock) libs/*/pyproject.toml services/*/pyproject.toml
	$(UV) sync --python $(PYTHON) --all-packages
	@touch $@

run: setup
	$(VENV)/bin/otasuke run

test: setup
	bash scripts/test.sh

test-cluster: setup
	$(VENV)/bin/python -m pytest -m cluster -s tests/cluster

# Render one region's Kubernetes manifests to stdout: make manifests REGION=chubu
manifests: $(STAMP)
	@$(VENV)/bin/python infra/render.py $(REGION)

# Speed figures (see benchmarks/README.md); they print, they never fail a build.
bench: setup
	$(VENV)/bin/python benchmarks/detection/run.py --no-reference
	$(VENV)/bin/python -m benchmarks.telemetry_pipeline --events 1000000 --rate 100000 --detection-processes 1
	$(VENV)/bin/python benchmarks/diagnosis/report_and_scoring.py
	$(VENV)/bin/python benchmarks/training/run.py
	$(VENV)/bin/python benchmarks/insurance/run.py
	$(VENV)/bin/python benchmarks/tracing/run.py
	$(VENV)/bin/python benchmarks/helpdesk_chat/turns.py
	$(VENV)/bin/python benchmarks/helpdesk_console/password_cost.py
	.venv-rasa/bin/python benchmarks/nlu/evaluate.py benchmarks/nlu/heldout_v7.yml
	.venv-rasa/bin/python benchmarks/nlu/evaluate.py benchmarks/nlu/heldout_v7.yml --novel-only
	.venv-rasa/bin/python benchmarks/nlu/crossval.py --mode fast

clean:
	rm -rf $(VENV) $(TOOLS)
