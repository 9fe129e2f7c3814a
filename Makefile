# The two commands of the README: `make demo` and `make test`. Everything else is what they need.
# The interpreter the virtual environment is made from; PYTHON=... chooses another. The distribution's own Python
# (3.11 or newer, with venv) where the machine has one: Debian builds it with profile-guided and link-time
# optimisation, and the suite takes about a fifth less CPU on it than on an interpreter compiled without them, as
# pyenv compiles one by default (this machine's first python3 on the PATH). Else the first python3 on the PATH.
SYSTEM_PYTHON := /usr/bin/python3
PYTHON ?= $(shell $(SYSTEM_PYTHON) -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' \
                  2>/dev/null && echo $(SYSTEM_PYTHON) || echo python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
OIDC_STAMP := tests/oidc/node_modules/.installed-stamp
AXE_STAMP := tests/e2e/axe/node_modules/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: install demo test test-sqlite test-postgresql test-sqlite-waiting test-postgresql-waiting test-sqlite-rest \
        test-postgresql-rest bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

# The browser tests drive Debian's Chromium (never a downloaded one); the PostgreSQL run starts its own cluster
# from Debian's PostgreSQL 15 server binaries. Both are installed once when missing.
# Then Podium's own modules are compiled to bytecode, as pip does for an installed package: an editable install
# leaves that to the first import, and where PYTHONDONTWRITEBYTECODE is set (as on this machine) every `podium`
# process would compile them again, a tenth of its start-up. Only changed files are compiled.
install: $(STAMP) $(OIDC_STAMP) $(AXE_STAMP)
	@$(BIN)/python -m compileall -q podium scorers >/dev/null
	@test -x /usr/bin/chromium || (apt-get update && apt-get install -y chromium)
	@test -x /usr/lib/postgresql/15/bin/initdb || (apt-get update && apt-get install -y postgresql-15)

# The sign-on tests run a real OpenID provider (tests/oidc: the npm package oidc-provider, pinned by its lockfile),
# installed again whenever the lockfile is newer than the last install.
$(OIDC_STAMP): tests/oidc/package-lock.json
	@command -v npm >/dev/null || (apt-get update && apt-get install -y nodejs npm)
	cd tests/oidc && npm ci --no-audit --no-fund --loglevel=error
	touch $(OIDC_STAMP)

# The accessibility tests inject axe-core (tests/e2e/axe: the npm package, pinned by its lockfile) into every page.
$(AXE_STAMP): tests/e2e/axe/package-lock.json
	@command -v npm >/dev/null || (apt-get update && apt-get install -y nodejs npm)
	cd tests/e2e/axe && npm ci --no-audit --no-fund --loglevel=error
	touch $(AXE_STAMP)

demo: $(STAMP)
	$(BIN)/podium demo
	$(BIN)/podium run --host $(HOST) --port $(PORT)

# The whole suite on SQLite and on a temporary PostgreSQL cluster each run starts and removes. Each database's suite
# is run as two halves side by side: the tests that drive servers, workers, a browser and the LMS (WAITING), which
# spend much of their time waiting on those processes, and the others. On 2 cores the four runs keep both busy where
# two left a third of the time idle. Each run's output is printed whole when it ends; --keep-going finishes the other
# runs when one fails, and make still fails when any did. `make test-sqlite` or `make test-postgresql` runs one
# database's whole suite in one run.
WAITING := tests/jobs tests/e2e tests/lti tests/test_demo_service.py
test: install
	@$(MAKE) --no-print-directory --keep-going --jobs=4 --output-sync=target \
		test-sqlite-waiting test-sqlite-rest test-postgresql-waiting test-postgresql-rest

test-sqlite test-postgresql: test-%: install
	$(BIN)/python -m pytest --database=$*

test-sqlite-waiting test-postgresql-waiting: test-%-waiting: install
	$(BIN)/python -m pytest --database=$* $(WAITING)

test-sqlite-rest test-postgresql-rest: test-%-rest: install
	$(BIN)/python -m pytest --database=$* $(addprefix --ignore=,$(WAITING))

bench: install
	$(BIN)/python bench/cli.py
	$(BIN)/python bench/scoring.py
	$(BIN)/python bench/grading.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/integrity.py
	$(BIN)/python bench/web.py
	$(BIN)/python bench/rush.py
	$(BIN)/python bench/rush.py --hostile
	$(BIN)/python bench/browser.py

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis bench/.data tests/oidc/node_modules tests/e2e/axe/node_modules
