# The two commands a new user needs: `make demo` and `make test`. Each sets everything up first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test serve bench lint clean services fuzz

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/voiceguard demo

test: $(STAMP) services
	$(BIN)/ruff check voiceguard tests benchmarks examples
	$(BIN)/mypy
	$(BIN)/python -m pytest

serve: $(STAMP)
	$(BIN)/voiceguard serve

# The whole suite side by side with direct, nginx and LiteLLM (installed into benchmarks/.venv-litellm on first
# run), one table at the end; BENCH_ARGS=--quick for a two-minute version, --json FILE to keep the figures.
BENCH_ARGS ?=
bench: $(STAMP) services
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check voiceguard tests benchmarks examples
	$(BIN)/ruff format --check voiceguard tests benchmarks examples
	$(BIN)/mypy

clean:
	rm -rf $(VENV) voiceguard-data voiceguard-demo .pytest_cache .mypy_cache .ruff_cache

# What the end-to-end tests run against besides Python: nginx in front of three replicas (tests/test_replicas.py)
# and the machine's PostgreSQL (shared audit log and consent registry). Installed or started when missing and
# possible (root with apt); otherwise the replica test says it skipped and why.
services:
	@command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || \
		{ command -v apt-get >/dev/null 2>&1 && apt-get update -qq && apt-get install -y -qq nginx-light >/dev/null; } || \
		echo "nginx could not be installed: tests/test_replicas.py will be skipped"
	@pg_isready -q -h 127.0.0.1 2>/dev/null || \
		{ ls /etc/postgresql >/dev/null 2>&1 && pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start; } || \
		echo "PostgreSQL is not running on 127.0.0.1:5432"

# Coverage-guided fuzzing of every wire parser for FUZZ_SECONDS (corpus kept in .fuzz-corpus/).
FUZZ_SECONDS ?= 300
fuzz: $(STAMP)
	$(BIN)/python tests/fuzz/fuzz_protocols.py -max_total_time=$(FUZZ_SECONDS) .fuzz-corpus
