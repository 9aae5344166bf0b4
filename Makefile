# Two commands do everything on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint unit bench sandbox run alerts doctor clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m bot console

test: lint unit

lint: $(STAMP)
	$(BIN)/ruff check bot tests bench
	$(BIN)/ruff format --check bot tests bench
	$(BIN)/mypy bot

unit: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	for f in bench/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

sandbox: $(STAMP)
	$(BIN)/python -m bot sandbox

run: $(STAMP)
	$(BIN)/python -m bot run

alerts: $(STAMP)
	$(BIN)/python -m bot alerts

# make doctor EMAIL=you@yourspace.com [ARGS="--write --totp 123456"]  (password: prompt or NEXUDUS_PASSWORD)
doctor: $(STAMP)
	$(BIN)/python -m bot doctor --email "$(EMAIL)" $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
