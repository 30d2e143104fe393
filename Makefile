# irbis: everything runs from the project's own virtual environment in .venv (created on demand).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SCENARIO ?= altai-winter-90d
SEED ?= 1
RUN_DIR ?= runs/$(SCENARIO)-seed$(SEED)

.PHONY: help sim test lint bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

sim: $(STAMP) ## run the default scenario into runs/ (card, metrics.json, summary, log)
	rm -rf $(RUN_DIR)
	$(BIN)/irbis sim $(SCENARIO) --seed $(SEED) --out $(RUN_DIR)

test: $(STAMP) ## run the test suite
	$(BIN)/python -m pytest -q

lint: $(STAMP) ## ruff (style, imports, the banned time API in device/)
	$(BIN)/ruff check device sim tools tests bench
	$(BIN)/ruff format --check device sim tools tests bench

bench: $(STAMP) ## print speed figures (never fails on a slow machine)
	$(BIN)/python -m bench

clean: ## remove the environment and run folders
	rm -rf $(VENV) runs
