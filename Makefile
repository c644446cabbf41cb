# Sightline: the two commands a newcomer needs are `make demo` and `make test`.
# Each sets itself up: Debian packages (installed as root, else the apt-get
# line is printed), a virtualenv in .venv, and pinned Python dependencies.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PIP    := $(BIN)/python -m pip

.PHONY: demo test bench lint proto clean sysdeps-demo sysdeps-test

demo: sysdeps-demo $(STAMP)
	$(BIN)/python -m console_app.demo

test: sysdeps-test $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest $(PYTEST_ARGS)

bench: sysdeps-test $(STAMP)
	$(BIN)/python -m benchmarks

lint: $(STAMP)
	$(BIN)/ruff check device_runtime console_app tests benchmarks training

proto: $(STAMP)
	$(BIN)/python -m device_runtime.protocol.generate

sysdeps-demo:
	@scripts/system-deps.sh demo

sysdeps-test:
	@scripts/system-deps.sh test

$(STAMP): pyproject.toml requirements/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c requirements/constraints.txt -e '.[device,console,dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) build dist *.egg-info
