# Two commands matter: `make demo` and `make test`. Everything else is for developers and CI.
#   make test                    the suite on SQLite with Django 5.2
#   make test DJANGO=4.2         the same with Django 4.2
#   make test DB=mysql           the MySQL-family lane (MariaDB on 127.0.0.1:3306, Celery on Redis)
#   make test BROWSER=1          also the headless Chromium lane (Debian's chromium; axe-core from npm)
#   make test-tutor              the Tutor plugin (tutor/) rendered by the real tutor package, no Docker
#   make dist                    the wheels and sdists of both distributions, into dist/
#   make test WORKERS=0          the suite in one process (default: one worker per core, as pytest-xdist runs it)
#   make test RELEASE=verawood   the suite with an Open edX release's own library versions (teak, ulmo,
#                                verawood: requirements/releases/), in an environment of its own
#   make check-releases          the built wheel resolved with each release's pins, for that release's Python
#   make check-py312             what Python 3.12 removed or deprecated, checked without a 3.12 interpreter
PYTHON ?= python3
DJANGO ?= 5.2
DB ?= sqlite
BROWSER ?=
RELEASE ?=
RELEASES := $(patsubst requirements/releases/%.txt,%,$(wildcard requirements/releases/*.txt))
RELEASE_PINS := $(if $(RELEASE),requirements/releases/$(RELEASE).txt)
ifneq ($(RELEASE),)
ifeq ($(wildcard $(RELEASE_PINS)),)
$(error RELEASE=$(RELEASE) has no pins: choose one of $(RELEASES))
endif
endif
# The release's Python, from its pins' "# python:" line. This machine has only Python 3.11: a release
# on 3.12 (Verawood) gets its libraries that declare Python >= 3.12 (openedx-events 11) with
# --ignore-requires-python; they import and run on 3.11, and check-releases resolves them for 3.12.
RELEASE_PYTHON := $(if $(RELEASE),$(shell sed -n 's/^# python: *//p' $(RELEASE_PINS)))
RELEASE_INSTALL = -c $(RELEASE_PINS) $(if $(filter-out 3.11,$(RELEASE_PYTHON)),--ignore-requires-python)
VENV ?= $(if $(RELEASE),.venv-$(RELEASE),.venv-django$(DJANGO))
BIN := $(VENV)/bin
PYTEST_ARGS ?=
# pytest-xdist workers: the suite waits on servers, timeouts and subprocesses as much as on the CPU.
WORKERS ?= 2
# The browser lane's axe-core comes from the npm registry into this ignored folder, once, never at test time.
AXE_CORE_VERSION ?= 4.14.1
BROWSER_TOOLS ?= .browser-tools
AXE_CORE_STAMP := $(BROWSER_TOOLS)/.installed-axe-core-$(AXE_CORE_VERSION)
AXE_CORE_JS := $(abspath $(BROWSER_TOOLS))/node_modules/axe-core/axe.min.js
TUTOR_VENV ?= .venv-tutor
TUTOR_REQUIREMENT ?= tutor>=21.0.0,<23.0.0
# The existing POK plugin's Tutor plugin, installed next to ours to test the switch (empty: skipped).
# It needs Tutor 22; with Tutor 21 use tutor-contrib-pok==21.0.1.
TUTOR_LEGACY_PLUGIN ?= tutor-contrib-pok==22.0.0
# The existing POK plugin, in its own environment: the adoption tests run its migrations.
LEGACY_VENV ?= .venv-legacy
LEGACY_REQUIREMENT ?= openedx-pok==21.0.1
LEGACY_DJANGO ?= 5.2

.PHONY: test test-tutor quality format migrations-check check-releases check-py312 demo fake-pok bench dist clean

# Before 0.1.0 this distribution was named openedx-pok, which is the existing plugin's name: an
# environment or checkout made then still holds it under that name (the app would load twice, and
# the openedx_pok.E006 check would see the existing plugin installed).
# A release lane installs the release's pins as constraints instead of the newest Django of a series.
$(BIN)/.installed-$(DB): pyproject.toml $(RELEASE_PINS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip uninstall -q -y openedx-pok
	rm -rf openedx_pok.egg-info
	$(BIN)/pip install -q -e ".[test,quality]" $(if $(RELEASE),$(RELEASE_INSTALL),"Django~=$(DJANGO).0") \
		$(if $(filter mysql,$(DB)),"mysqlclient>=2.2.1" "redis>=4.5")
	touch $@

$(AXE_CORE_STAMP):
	npm install --prefix $(BROWSER_TOOLS) --no-save --no-audit --no-fund --loglevel=error axe-core@$(AXE_CORE_VERSION)
	touch $@

$(LEGACY_VENV)/.installed-$(DB):
	test -x $(LEGACY_VENV)/bin/python || $(PYTHON) -m venv $(LEGACY_VENV)
	$(LEGACY_VENV)/bin/pip install -q --upgrade pip
	$(LEGACY_VENV)/bin/pip install -q "$(LEGACY_REQUIREMENT)" "Django~=$(LEGACY_DJANGO).0" $(if $(filter mysql,$(DB)),"mysqlclient>=2.2.1")
	touch $@

# pytest's exit code 5 (nothing collected) is not a failure for a lane whose tests are all skipped.
# --durations=10 ends every run with its ten slowest tests, so a slow new fixture shows at once.
test: $(BIN)/.installed-$(DB) $(LEGACY_VENV)/.installed-$(DB) migrations-check $(if $(BROWSER),$(AXE_CORE_STAMP))
	DB_ENGINE=$(DB) BROWSER_TESTS=$(BROWSER) AXE_CORE_JS=$(AXE_CORE_JS) \
		POK_LEGACY_PYTHON=$(abspath $(LEGACY_VENV))/bin/python \
		$(BIN)/python -m pytest --durations=10 -n $(WORKERS) $(PYTEST_ARGS); \
		status=$$?; if [ $$status -eq 5 ]; then status=0; fi; exit $$status

# The Tutor plugin's lane: its own environment, since the main suite must not need tutor.
$(TUTOR_VENV)/.installed: pyproject.toml tutor/pyproject.toml
	test -x $(TUTOR_VENV)/bin/python || $(PYTHON) -m venv $(TUTOR_VENV)
	$(TUTOR_VENV)/bin/pip install -q --upgrade pip
	$(TUTOR_VENV)/bin/pip uninstall -q -y openedx-pok
	rm -rf openedx_pok.egg-info
	$(TUTOR_VENV)/bin/pip install -q -e ".[test]" -e tutor/ "$(TUTOR_REQUIREMENT)" $(if $(TUTOR_LEGACY_PLUGIN),"$(TUTOR_LEGACY_PLUGIN)")
	touch $@

test-tutor: $(TUTOR_VENV)/.installed
	$(TUTOR_VENV)/bin/python -m pytest tests/tutor $(PYTEST_ARGS)

migrations-check: $(BIN)/.installed-$(DB)
	DB_ENGINE=sqlite $(BIN)/python -m django makemigrations openedx_pok --check --dry-run \
		--settings=tests.settings --pythonpath=. --pythonpath=platform_stand_ins

quality: $(BIN)/.installed-$(DB)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Every release's pins with the wheel an operator would install: pip's resolver, for the release's Python.
check-releases: $(BIN)/.installed-$(DB)
	$(BIN)/python requirements/check_releases.py

# Python 3.12 (Verawood) without a 3.12 interpreter: ruff's banned-api list names what 3.12 removed or
# deprecated, and every module of the plugin is imported with DeprecationWarning as an error.
check-py312: $(BIN)/.installed-$(DB)
	$(BIN)/ruff check --select TID251,DTZ003,DTZ004,UP .
	DB_ENGINE=sqlite $(BIN)/python -m pytest -p no:cacheprovider -q tests/test_deprecations.py

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

# What an operator installs from this repository: the plugin, and the Tutor plugin (tutor/).
dist: $(BIN)/.installed-$(DB)
	$(BIN)/pip install -q build
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/python -m build --outdir dist tutor
	ls dist

clean:
	rm -rf .venv-django* $(addprefix .venv-,$(RELEASES)) $(TUTOR_VENV) $(LEGACY_VENV) $(BROWSER_TOOLS) dist .pytest_cache .ruff_cache *.egg-info
