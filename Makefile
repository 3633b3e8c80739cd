# The two commands a new user needs: `make demo` and `make test`. Each sets everything up first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test serve bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/voiceguard demo

test: $(STAMP)
	$(BIN)/ruff check voiceguard tests benchmarks examples
	$(BIN)/mypy
	$(BIN)/python -m pytest

serve: $(STAMP)
	$(BIN)/voiceguard serve

bench: $(STAMP)
	$(BIN)/python -m benchmarks.proxy_overhead
	$(BIN)/python -m benchmarks.realtime_frames

lint: $(STAMP)
	$(BIN)/ruff check voiceguard tests benchmarks examples
	$(BIN)/ruff format --check voiceguard tests benchmarks examples
	$(BIN)/mypy

clean:
	rm -rf $(VENV) voiceguard-data voiceguard-demo .pytest_cache .mypy_cache .ruff_cache
