# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install test demo eval bench lint format clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/pytest

demo: $(STAMP)
	$(BIN)/python -m tests.sites.demo

# Scores the cleaner on ../shared/eval (not part of the repo) beside plain trafilatura.
EVAL_DIR ?= ../shared/eval
eval: $(STAMP)
	$(BIN)/communique eval $(EVAL_DIR)

# Speed and memory figures, printed; never pass/fail.
bench: $(STAMP)
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy archive crawler

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) data/*.db data/*.db-* .pytest_cache
