# One command to set up and run, one to set up and test. Everything installs from PyPI.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MLFLOW3 := .venvs/mlflow3
MLFLOW2 := .venvs/mlflow2
MLFLOW31 := .venvs/mlflow31
MLFLOW318 := .venvs/mlflow318
# the stock clients with MLflow's auth extra (AuthServiceClient); a new name rebuilds old venvs
CLIENT_STAMP := .installed-auth
STAMP := $(VENV)/.installed

.PHONY: help run test install compat-venvs compat-matrix compat-suite lint typecheck pytest bench bench-auth bench-audit bench-jobs bench-outbox clean ui web-test browser balancer ui-bench bench-trace bench-evals bench-import-server fuzz bench-scaleout bench-bigstore

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install Cairn with its dev tools (and lm-eval for the evaluation hub)

# ---- the web UI (web/ -> cairn/server/static/), rebuilt only when web/ changed ----
NPM ?= npm
WEB_STAMP := cairn/server/static/.built
WEB_DEPS := web/node_modules/.installed
WEB_SOURCES := $(shell find web/src web/public -type f 2>/dev/null) web/index.html \
	web/openapi-v1.json web/scripts/gen-api.mjs \
	web/vite.config.ts web/tsconfig.json web/package.json web/package-lock.json
CHROMIUM := /usr/bin/chromium

$(WEB_DEPS): web/package.json web/package-lock.json
	cd web && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(NPM) ci --no-audit --no-fund
	touch $@

$(WEB_STAMP): $(WEB_DEPS) $(WEB_SOURCES)
	cd web && $(NPM) run build
	touch $@

ui:  ## build the web UI into cairn/server/static (npm ci + vite build, when web/ changed)
	@if command -v $(NPM) >/dev/null 2>&1; then $(MAKE) --no-print-directory $(WEB_STAMP); \
	else echo "npm not found: the web UI is not built (install Node.js 20+ and npm, then make ui)" >&2; fi

browser:  ## make sure Debian's chromium is there for the UI tests (installs it when root)
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get install -y chromium; \
	else echo "The UI tests need Chromium at $(CHROMIUM): run 'sudo apt-get install -y chromium'" >&2; exit 1; fi

# nginx from Debian's packages: tests/compat/test_scaleout.py runs several servers behind it,
# with deploy/nginx.conf (docs/deploy.md); the tests start their own nginx, never the system's
NGINX := /usr/sbin/nginx

balancer:  ## make sure Debian's nginx is there for the scale-out tests (installs it when root)
	@if [ -x $(NGINX) ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get install -y nginx; \
	else echo "The scale-out tests need nginx at $(NGINX): run 'sudo apt-get install -y nginx'" >&2; exit 1; fi

web-test: install $(WEB_STAMP) browser  ## the UI's unit tests (vitest) and end-to-end tests (playwright + chromium)
	cd web && $(NPM) run typecheck && npx vitest run && npx playwright test

ui-bench: install $(WEB_STAMP) browser $(MLFLOW3)/$(CLIENT_STAMP)  ## Cairn's UI vs MLflow 3.17.2's UI, 10,000 runs (docs/ui.md)
	$(BIN)/python benchmarks/ui_bench.py

run: install ui  ## install everything, build the UI and start the server on the embedded default (SQLite + ./cairn-data)
	$(BIN)/cairn server

$(MLFLOW3)/$(CLIENT_STAMP):
	$(PYTHON) -m venv $(MLFLOW3)
	$(MLFLOW3)/bin/pip install --quiet 'mlflow[auth]==3.17.2' scikit-learn pandas
	touch $@

$(MLFLOW2)/$(CLIENT_STAMP):
	$(PYTHON) -m venv $(MLFLOW2)
	$(MLFLOW2)/bin/pip install --quiet 'mlflow[auth]==2.22.5' 'sqlalchemy<2.1' scikit-learn pandas
	touch $@

# openai for the 3.17.2 client's tracing autologger (tests/compat/test_tracing_autolog.py, against
# a stub model server on loopback): a --target folder put on the script's PYTHONPATH, pinned to
# the client venv's own versions of what it shares with it
OPENAI_EXTRAS := .venvs/openai-extras

$(OPENAI_EXTRAS)/.installed: $(MLFLOW3)/$(CLIENT_STAMP)
	$(MLFLOW3)/bin/pip freeze --exclude-editable > $(OPENAI_EXTRAS).constraints
	$(MLFLOW3)/bin/pip install --quiet --upgrade --target $(OPENAI_EXTRAS) -c $(OPENAI_EXTRAS).constraints 'openai>=2.2,<=2.47'
	touch $@


# seed 001's client, with the OpenTelemetry SDK of its time: from 1.4x the SDK's span
# processors keep a _shutdown flag that 3.1.4's own processor never sets, and @mlflow.trace fails
$(MLFLOW31)/$(CLIENT_STAMP):
	$(PYTHON) -m venv $(MLFLOW31)
	$(MLFLOW31)/bin/pip install --quiet 'mlflow[auth]==3.1.4' scikit-learn pandas \
		'opentelemetry-api==1.35.0' 'opentelemetry-sdk==1.35.0'
	touch $@

# the newest 3.x: the full package when its mlflow-tracing==3.18.0 is on the index, else the
# mlflow-skinny client (tracking, registry, tracing, pyfunc; no server) with matplotlib, which
# the full package brings and log_figure needs
$(MLFLOW318)/$(CLIENT_STAMP):
	$(PYTHON) -m venv $(MLFLOW318)
	$(MLFLOW318)/bin/pip install --quiet 'mlflow[auth]==3.18.0' scikit-learn pandas \
		|| $(MLFLOW318)/bin/pip install --quiet 'mlflow-skinny==3.18.0' scikit-learn pandas matplotlib
	touch $@

CLIENT_VENVS := $(MLFLOW3)/$(CLIENT_STAMP) $(MLFLOW2)/$(CLIENT_STAMP) \
	$(MLFLOW31)/$(CLIENT_STAMP) $(MLFLOW318)/$(CLIENT_STAMP)

compat-venvs: $(CLIENT_VENVS) $(OPENAI_EXTRAS)/.installed  ## the stock mlflow clients used by tests/compat (2.22.5, 3.1.4, 3.17.2, 3.18.0)

# MLflow's own REST test suite (tests/tracking/test_rest_tracking.py, restored outside the repo)
# against a fresh cairn server; docs/development.md says how to restore it
SUITE ?=
DB ?= sqlite
REST_SUITE_VENV ?= /tmp/mlflow-rest-venv

compat-suite: install  ## MLflow's REST suite vs a fresh cairn server: make compat-suite SUITE=DIR [DB=postgresql]
	@test -n "$(SUITE)" || { echo "usage: make compat-suite SUITE=DIR [DB=sqlite|postgresql] (docs/development.md)" >&2; exit 2; }
	@test -x $(REST_SUITE_VENV)/bin/python || $(SUITE)/setup-venv.sh $(REST_SUITE_VENV)
	REST_SUITE_VENV=$(REST_SUITE_VENV) PYTHONPATH=$(CURDIR) $(BIN)/python -m tests.compat.rest_suite --suite $(SUITE) --db $(DB)

compat-matrix: install compat-venvs  ## every stock-client workflow with every client of the matrix (make test runs the outer clients on five)
	CAIRN_CLIENT_MATRIX=full $(BIN)/pytest -q -n $(PYTEST_WORKERS) tests/compat/test_stock_client.py

lint: install  ## ruff
	$(BIN)/ruff check cairn tests benchmarks examples
	$(BIN)/ruff format --check cairn tests benchmarks examples

typecheck: install  ## mypy --strict
	$(BIN)/mypy

# three workers on CI's two cores: much of the suite waits on live servers and databases
PYTEST_WORKERS ?= 3
pytest: install compat-venvs balancer
	$(BIN)/pytest -q -n $(PYTEST_WORKERS)

test: lint typecheck pytest web-test  ## install everything and run the whole test suite

.venvs/fml/.installed:
	$(PYTHON) -m venv .venvs/fml
	.venvs/fml/bin/pip install --quiet 'fasttrackml==0.6.0'
	touch $@

bench: install $(MLFLOW3)/$(CLIENT_STAMP) .venvs/fml/.installed  ## Cairn vs MLflow 3.17.2 vs FastTrackML 0.6.0 (docs/benchmarks.md)
	$(BIN)/python benchmarks/run.py

bench-auth: install $(MLFLOW3)/.installed  ## what access control costs, Cairn and MLflow basic-auth (docs/benchmarks.md)
	$(BIN)/python benchmarks/auth_bench.py --only cairn --rounds 5
	$(BIN)/python benchmarks/auth_bench.py --only mlflow --rounds 2 -- \
		--single-requests 100 --single-concurrent-requests 200 --lb-runs 2 --lb-points-per-run 4000

# mlflow-export-import 1.2.0 (bench only, never a dependency of Cairn); it imports tabulate
# without declaring it
MEI := .venvs/mlflow-export-import
$(MEI)/.installed:
	$(PYTHON) -m venv $(MEI)
	$(MEI)/bin/pip install --quiet 'mlflow==3.17.2' 'mlflow-export-import==1.2.0' 'tabulate==0.10.0'
	touch $@

bench-import-server: install $(MLFLOW3)/$(CLIENT_STAMP) $(MEI)/.installed  ## cairn import mlflow vs mlflow-export-import, 50 runs x 10,000 points (docs/benchmarks.md)
	$(BIN)/python benchmarks/import_server_bench.py

bench-jobs: install  ## the job engine: 1,000 no-op jobs end to end on SQLite, PostgreSQL and Redis queues (docs/benchmarks.md)
	$(BIN)/python benchmarks/jobs_bench.py

bench-outbox: install  ## webhook delivery and alert latency on a live server; ingest with webhooks and alert rules vs none (docs/benchmarks.md)
	$(BIN)/python benchmarks/outbox_bench.py

bench-trace: install $(MLFLOW3)/$(CLIENT_STAMP)  ## OTLP ingest spans/s, Cairn vs MLflow 3.17.2 side by side; traces/search p50 over 100,000 traces (docs/benchmarks.md)
	$(BIN)/python benchmarks/trace_bench.py --traces 100000

bench-evals: install  ## evaluation submit latency (p50/p99 of 200) and a 10-benchmark job's completion time (docs/evaluations.md)
	$(BIN)/python benchmarks/eval_bench.py

bench-audit: install  ## the audit trail at 1,000,000 events; tracking writes before vs with the change log (docs/benchmarks.md)
	$(BIN)/python benchmarks/audit_bench.py
	$(BIN)/python benchmarks/audit_bench.py --tracking-against 99aa6cb --rounds 3

bench-scaleout: install balancer  ## 1, 2 and 4 servers behind nginx on one PostgreSQL: log-batch points/s, log-metric req/s, CPU per point of each part (docs/benchmarks.md)
	$(BIN)/python benchmarks/scaleout_bench.py --rounds 2

bench-bigstore: install $(MLFLOW3)/$(CLIENT_STAMP)  ## 1,000,000 runs, 100,000,000 points on PostgreSQL and SQLite: search, paging, history, bytes/point vs MLflow's schema (docs/benchmarks.md)
	$(BIN)/python benchmarks/bigstore_bench.py --backend postgresql --mlflow
	$(BIN)/python benchmarks/bigstore_bench.py --backend sqlite --mlflow

fuzz: install  ## the hostile-input fuzzer at length: schemathesis + the hand-written list, SQLite and PostgreSQL (docs/server.md)
	PYTHONPATH=$(CURDIR) $(BIN)/python -m tests.api.fuzz --seconds 600 --examples 50

clean:  ## remove the virtualenvs and caches
	rm -rf $(VENV) .venvs .pytest_cache .mypy_cache .ruff_cache web/node_modules cairn/server/static
