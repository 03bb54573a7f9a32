# Two commands, nothing to install by hand:
#   make run   - set up a virtualenv, migrate the SQLite default and serve the bot
#   make test  - set up the same virtualenv and run every check CI runs
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest system-deps sandbox bench bench-smoke clean pictures pictures-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/vs-terminate-bot serve

sandbox: $(STAMP)
	$(BIN)/python -m devkit.sandbox

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Debian packages the e2e tests run as real clients (prometheus-alertmanager, promtool);
# silent when they are already installed.
system-deps:
	bash scripts/system-deps.sh

# pytest exits 5 when it collects nothing: say so instead of failing with a bare status.
pytest: $(STAMP) system-deps
	$(BIN)/pytest -q; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest: no tests collected"; exit 0; fi; exit $$rc

test: lint typecheck pytest

# Debian's chromium and two fonts for `make pictures`; silent when present. Only `pictures`
# depends on it: `make test` never starts a browser.
pictures-deps:
	bash scripts/pictures-deps.sh

# Pictures of what people see in Slack, from the Block Kit JSON the real bot sends (README,
# "What people see"): JSON, HTML and PNG per scene in docs/pictures/.
pictures: $(STAMP) pictures-deps
	PYTHONPATH=. $(BIN)/python -m devkit.pictures docs/pictures

bench: $(STAMP)
	PYTHONPATH=. $(BIN)/python bench/run.py

# CI's check that the benchmark still runs end to end; its timings are not judged.
bench-smoke: $(STAMP)
	PYTHONPATH=. $(BIN)/python bench/run.py --smoke --output bench/results/smoke.json

fuzz: $(STAMP)
	PYTHONPATH=. $(BIN)/python bench/fuzz.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
