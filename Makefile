# The two commands of the README: `make demo` and `make test`. Everything else is what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: install demo test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

# The browser tests drive Debian's Chromium (never a downloaded one); it is installed once when missing.
install: $(STAMP)
	@test -x /usr/bin/chromium || (apt-get update && apt-get install -y chromium)

demo: $(STAMP)
	$(BIN)/podium demo
	$(BIN)/podium run --host $(HOST) --port $(PORT)

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/scoring.py
	$(BIN)/python bench/grading.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/web.py

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis bench/.data
