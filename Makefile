# outboundIQ Relay — two commands on a fresh clone: `make run`, `make test`.
# Each bootstraps a local virtualenv (.venv) with uv and the locked dependencies.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
STAMP := $(VENV)/.synced

export RELAY_SOURCES_FILE ?= examples/sources.yaml
export DEMO_HOOK_TOKEN ?= demo-token

.PHONY: run test lint hadolint typecheck layers unit bench lock clean chart-schema screenshots

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv

$(STAMP): $(UV) pyproject.toml uv.lock
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --all-groups --quiet
	@touch $(STAMP)

# The queue: RELAY_QUEUE_URL, whose default (relay/config/settings.py) is ./relay-queue.db,
# the same file `relay queue stats` and the other operator commands open from this folder.
run: $(STAMP)
	@if [ -z "$$RELAY_OUTBOUNDIQ_API_KEY" ]; then \
	  echo "************************************************************************"; \
	  echo "* RELAY_OUTBOUNDIQ_API_KEY is not set: starting in DRY-RUN mode.        *"; \
	  echo "* Dials are mapped and queued, then logged instead of sent to outboundIQ. *"; \
	  echo "* Set RELAY_OUTBOUNDIQ_API_KEY=<key> to deliver for real.               *"; \
	  echo "************************************************************************"; \
	  RELAY_DRY_RUN=true exec $(BIN)/relay serve; \
	else \
	  exec $(BIN)/relay serve; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check relay mappings tests bench helm
	$(BIN)/ruff format --check relay mappings tests bench helm

# The Helm chart's `sources` schema, from `relay schema` (tests/deploy fails while it is stale).
chart-schema: $(STAMP)
	$(BIN)/python -m tests.deploy.chart_schema

hadolint: $(STAMP)
	$(BIN)/hadolint Dockerfile

layers: $(STAMP)
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# pytest-xdist: the tests wait on real servers, Redis and child processes far more than they
# compute, so more workers than cores pay off (README, Development). PYTEST_WORKERS=0 runs
# them all in one process. --dist loadgroup keeps each xdist_group on one worker.
PYTEST_WORKERS ?= 4
unit: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS) --dist loadgroup

test: lint hadolint typecheck layers unit

# The console's screenshots in docs/img (docs/console.md), taken by the browser tests.
screenshots: $(STAMP)
	RELAY_SCREENSHOTS=docs/img RELAY_REQUIRE_BROWSER=1 $(BIN)/pytest -q -p no:cacheprovider tests/browser

bench: $(STAMP)
	$(BIN)/python -m bench

lock: $(UV)
	$(UV) lock

clean:
	rm -rf $(VENV) var relay-queue.db relay-queue.db-wal relay-queue.db-shm .mypy_cache .ruff_cache .pytest_cache .hypothesis
