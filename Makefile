# Two set-up commands on a fresh Debian machine with Python 3.11 (see README.md):
#   make run    installs the app into .venv, builds the demo if needed, serves it on 127.0.0.1
#   make test   installs the app and test tools (Debian chromium if missing), runs every test
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
REQ_HASH := $(shell sha1sum requirements.txt | cut -c1-12)
STAMP := $(VENV)/.installed-$(REQ_HASH)
PORT ?= 8501

.PHONY: run test lint demo bench chromium poppler clean

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

chromium:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  echo "Installing Debian chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi

# issue 16: the campaign-brief test renders the PDF with pdftoppm and reads it with pdftotext
poppler:
	@if ! command -v pdftoppm >/dev/null 2>&1 || ! command -v pdftotext >/dev/null 2>&1; then \
	  echo "Installing Debian poppler-utils for the campaign-brief test"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq poppler-utils >/dev/null; \
	fi

demo: $(STAMP)
	$(PY) -m geo demo

run: $(STAMP)
	@test -f data/workspaces/demo/workspace.json || $(PY) -m geo demo
	@echo "Open http://127.0.0.1:$(PORT) (Ctrl+C stops the server)"
	$(VENV)/bin/streamlit run app.py --server.port $(PORT)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: $(STAMP) chromium poppler lint
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) bench/bench_map.py

clean:
	rm -rf static/generated data/cache .pytest_cache
