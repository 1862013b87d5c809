# Foresight: `make run` starts the monitor with its dashboard, `make test` runs every test.
# Both do their own set-up on a fresh machine: a venv in .venv/, pip, npm, and (tests)
# Debian's chromium for the browser tests, prometheus-alertmanager and prometheus (promtool)
# for the alerting tests, mariadb-server and postgresql for the SQL source's tests.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
VENDOR := static/vendor
ARGS   ?=

.PHONY: run test lint bench setup setup-dev setup-lstm chromium alertmanager promtool mariadb postgres wrk clean

run: setup
	$(PY) main.py --monitor $(ARGS)

test: setup-dev setup-lstm chromium alertmanager promtool mariadb postgres lint
	$(PY) -m pytest $(ARGS)

# ruff (lint and format), mypy and import-linter's layer contracts, all from pyproject.toml.
lint: setup-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

bench: setup-dev wrk
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-bench.txt
	$(PY) bench/run_all.py

setup: $(VENV)/.stamp-run $(VENDOR)/.stamp

setup-dev: setup $(VENV)/.stamp-dev

$(VENV)/.stamp-run: requirements.txt pyproject.toml
	[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

$(VENV)/.stamp-dev: requirements-dev.txt requirements.txt
	[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

# The lstm extra (Keras 3 + JAX, CPU wheels from PyPI, ~450 MB beside numpy and SciPy), so
# `make test` trains the LSTM for real; without it those tests skip, saying why.
setup-lstm: setup $(VENV)/.stamp-lstm

$(VENV)/.stamp-lstm: requirements-lstm.txt
	[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-lstm.txt
	touch $@

# Chart.js, its date adapter, chartjs-plugin-zoom (with Hammer.js, its pan input) and
# Swagger UI come from npm (package-lock.json pins them);
# only the browser files are copied into the git-ignored static/vendor/.
$(VENDOR)/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
	mkdir -p $(VENDOR)
	cp node_modules/chart.js/dist/chart.umd.min.js $(VENDOR)/chart.umd.min.js
	cp node_modules/chartjs-adapter-date-fns/dist/chartjs-adapter-date-fns.bundle.min.js $(VENDOR)/chartjs-adapter-date-fns.bundle.min.js
	cp node_modules/chartjs-plugin-zoom/dist/chartjs-plugin-zoom.min.js $(VENDOR)/chartjs-plugin-zoom.min.js
	cp node_modules/hammerjs/hammer.min.js $(VENDOR)/hammer.min.js
	cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css $(VENDOR)/
	touch $@

# Debian's chromium drives the browser tests (Playwright launches /usr/bin/chromium).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

# A real Alertmanager for the notification tests (tests/alerts/alertmanager_support.py).
alertmanager:
	@command -v prometheus-alertmanager >/dev/null 2>&1 || { \
	  echo "installing Debian's prometheus-alertmanager for the alerting tests"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq prometheus-alertmanager >/dev/null; }

# Debian's prometheus package: promtool checks /metrics and deploy/prometheus/*.yml, and the
# prometheus binary is the real server of tests/sources (--source prometheus) and bench_fleet.
promtool:
	@command -v promtool >/dev/null 2>&1 || { \
	  echo "installing Debian's prometheus (promtool) for the exposition and rules tests"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq prometheus >/dev/null; }

# A real MariaDB for the SQL source and DB probe tests (tests/sources/mariadb_support.py
# starts a private mariadbd; the package's own service is not used).
mariadb:
	@command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || { \
	  echo "installing Debian's mariadb-server for the SQL source tests"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq mariadb-server >/dev/null; }

# A real PostgreSQL for the same tests (tests/sources/postgres_support.py runs initdb and a
# private postgres from /usr/lib/postgresql/<ver>/bin; the package's own cluster is not used).
postgres:
	@ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || { \
	  echo "installing Debian's postgresql for the SQL source tests"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql >/dev/null; }

# wrk is the load generator of bench/bench_api.py.
wrk:
	@command -v wrk >/dev/null 2>&1 || { \
	  echo "installing Debian's wrk for the API benchmark"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk >/dev/null; }

clean:
	rm -rf $(VENV) node_modules $(VENDOR)
