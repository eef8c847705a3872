# Two commands matter: `make demo` and `make test`. Everything else is for developers and CI.
#   make test                    the suite on SQLite with Django 5.2
#   make test DJANGO=4.2         the same with Django 4.2
#   make test DB=mysql           the MySQL-family lane (MariaDB on 127.0.0.1:3306, Celery on Redis)
#   make test BROWSER=1          also the headless Chromium lane (needs Debian's chromium)
#   make test-tutor              the Tutor plugin (tutor/) rendered by the real tutor package, no Docker
PYTHON ?= python3
DJANGO ?= 5.2
DB ?= sqlite
BROWSER ?=
VENV ?= .venv-django$(DJANGO)
BIN := $(VENV)/bin
PYTEST_ARGS ?=
TUTOR_VENV ?= .venv-tutor
TUTOR_REQUIREMENT ?= tutor>=21.0.0,<23.0.0

.PHONY: test test-tutor quality format migrations-check demo fake-pok bench clean

$(BIN)/.installed-$(DB): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test,quality]" "Django~=$(DJANGO).0" $(if $(filter mysql,$(DB)),"mysqlclient>=2.2.1" "redis>=4.5")
	touch $@

# pytest's exit code 5 (nothing collected) is not a failure for a lane whose tests are all skipped.
test: $(BIN)/.installed-$(DB) migrations-check
	DB_ENGINE=$(DB) BROWSER_TESTS=$(BROWSER) $(BIN)/python -m pytest $(PYTEST_ARGS); \
		status=$$?; if [ $$status -eq 5 ]; then status=0; fi; exit $$status

# The Tutor plugin's lane: its own environment, since the main suite must not need tutor.
$(TUTOR_VENV)/.installed: pyproject.toml tutor/pyproject.toml
	test -x $(TUTOR_VENV)/bin/python || $(PYTHON) -m venv $(TUTOR_VENV)
	$(TUTOR_VENV)/bin/pip install -q --upgrade pip
	$(TUTOR_VENV)/bin/pip install -q -e ".[test]" -e tutor/ "$(TUTOR_REQUIREMENT)"
	touch $@

test-tutor: $(TUTOR_VENV)/.installed
	$(TUTOR_VENV)/bin/python -m pytest tests/tutor $(PYTEST_ARGS)

migrations-check: $(BIN)/.installed-$(DB)
	DB_ENGINE=sqlite $(BIN)/python -m django makemigrations openedx_pok --check --dry-run \
		--settings=tests.settings --pythonpath=. --pythonpath=platform_stand_ins

quality: $(BIN)/.installed-$(DB)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/.installed-$(DB)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# DEMO_PORT (default 8000) and DEMO_EMIT_AFTER (seconds POK takes to emit, default 5) are optional.
demo: $(BIN)/.installed-$(DB)
	$(BIN)/python -m demo

fake-pok: $(BIN)/.installed-$(DB)
	$(BIN)/python -m openedx_pok.testing

# Benchmarks print figures (they are not tests): every script in bench/ but the _common helper, in turn.
bench: $(BIN)/.installed-$(DB)
	for script in bench/[!_]*.py; do echo "== $$script"; $(BIN)/python -W ignore $$script || exit 1; done

clean:
	rm -rf .venv-django* $(TUTOR_VENV) .pytest_cache .ruff_cache *.egg-info
