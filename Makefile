# irbis: everything runs from the project's own virtual environment in .venv (created on demand).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SCENARIO ?= altai-winter-90d
SEED ?= 1
RUN_DIR ?= runs/$(SCENARIO)-seed$(SEED)
# Node tools from package.json (MicroPython for the supervisor tests, pyright), when npm is here.
NODE_STAMP := $(if $(shell command -v npm),node_modules/.installed)
PYRIGHT := node_modules/.bin/pyright

PORT ?= auto
SUPERVISOR := __init__ link logic board
MPREMOTE := $(BIN)/mpremote connect $(PORT)

.PHONY: help sim test lint bench clean deploy-supervisor

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,eval]'
	touch $(STAMP)

node_modules/.installed: package.json package-lock.json
	npm ci --prefer-offline --no-audit --no-fund
	touch $@

sim: $(STAMP) ## run the default scenario into runs/ (card, metrics.json, summary, log)
	rm -rf $(RUN_DIR)
	$(BIN)/irbis sim $(SCENARIO) --seed $(SEED) --out $(RUN_DIR)

test: $(STAMP) $(NODE_STAMP) ## run the test suite
	$(BIN)/python -m pytest -q

lint: $(STAMP) $(NODE_STAMP) ## ruff (style, imports, the banned time API in device/); pyright on the supervisor
	$(BIN)/ruff check device sim tools tests bench
	$(BIN)/ruff format --check device sim tools tests bench
	$(if $(NODE_STAMP),$(PYRIGHT) -p pyrightconfig.json,@echo "pyright skipped: npm not found")

bench: $(STAMP) ## print speed figures (never fails on a slow machine)
	$(BIN)/python -m bench

clean: ## remove the environment and run folders
	rm -rf $(VENV) runs

deploy-supervisor: $(STAMP) ## copy the supervisor to a Pico-class board on USB (PORT=/dev/ttyACM0)
	$(MPREMOTE) mkdir :supervisor || true
	$(foreach f,$(SUPERVISOR),$(MPREMOTE) cp device/supervisor/$(f).py :supervisor/$(f).py &&) true
	$(MPREMOTE) cp device/supervisor/main.py :main.py
	$(MPREMOTE) reset
