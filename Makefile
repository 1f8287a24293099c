# Two commands do all set-up: `make run` launches LayerLab, `make test` runs every test.
# Both create .venv when it is missing. torch is pinned to 2.13.0 first so that pip takes the
# CPU build here instead of resolving an unpinned torch to a multi-GB CUDA build.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.layerlab-installed
TORCH  ?= torch==2.13.0

.PHONY: run test lint bench screenshot clean-venv

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "$(TORCH)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/python main.py $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python -m bench.run_all

screenshot: $(STAMP)
	$(BIN)/python main.py --screenshot resources/screenshots/main_window.png

clean-venv:
	rm -rf $(VENV)
