# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# pywb (`communique replay`) lives apart: its pins would drag the main environment back.
REPLAY_VENV := .venv-replay
REPLAY_STAMP := $(REPLAY_VENV)/.installed-stamp

.PHONY: install replay-env test browser redis demo eval bench lint format clean

install: $(STAMP) $(REPLAY_STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

replay-env: $(REPLAY_STAMP)

$(REPLAY_STAMP): requirements-replay.txt
	$(PYTHON) -m venv $(REPLAY_VENV)
	$(REPLAY_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(REPLAY_VENV)/bin/python -m pip install --quiet -r requirements-replay.txt
	touch $(REPLAY_STAMP)

test: $(STAMP) $(REPLAY_STAMP) browser redis
	$(BIN)/pytest -n 3

# Headless Chromium for the browser tests (tests/test_web.py), from Debian's packages when
# it is missing and apt can be used (as root); otherwise those tests are skipped and say so.
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
		|| echo "browser: could not install chromium; browser tests will be skipped"; \
	else echo "browser: chromium not installed and apt-get unusable here; browser tests will be skipped"; fi

# redis-server for the tests of crawls on several machines (tests/test_distributed.py), from
# Debian's packages when it is missing and apt can be used; otherwise those tests are skipped.
redis:
	@if command -v redis-server >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; } \
		|| echo "redis: could not install redis-server; its tests will be skipped"; \
	else echo "redis: redis-server not installed and apt-get unusable here; its tests will be skipped"; fi

demo: $(STAMP)
	$(BIN)/python -m tests.sites.demo

# Scores the cleaner on ../shared/eval (not part of the repo) beside plain trafilatura, then
# the cross-language links through a crawl of the crosslang set (skipped without it).
EVAL_DIR ?= ../shared/eval
eval: $(STAMP)
	$(BIN)/python -m bench.evaluate $(EVAL_DIR)
	$(BIN)/python -m bench.crosslang_crawl $(EVAL_DIR)/crosslang

# Speed and memory figures, printed; never pass/fail.
bench: $(STAMP)
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy communique crawler archive

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) $(REPLAY_VENV) data/*.db data/*.db-* .pytest_cache
