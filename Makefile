# Sightline: the two commands a newcomer needs are `make demo` and `make test`.
# Each sets itself up: Debian packages (installed as root, else the apt-get
# line is printed), a virtualenv in .venv, and pinned Python dependencies.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PIP    := $(BIN)/python -m pip

.PHONY: demo test bench lint proto clean sysdeps-demo sysdeps-test package

# The console on an embedded demo site; on a box without a display, the terminal demo.
demo: sysdeps-demo $(STAMP)
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
		$(BIN)/python -m console_app --demo; \
	else \
		echo "make demo: no display (DISPLAY and WAYLAND_DISPLAY are unset), so the console cannot open."; \
		echo "Running the terminal demo instead (Ctrl-C stops it). On a desktop, make demo opens the console."; \
		$(BIN)/python -m console_app.demo; \
	fi

test: sysdeps-test $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest $(PYTEST_ARGS)

bench: sysdeps-test $(STAMP)
	$(BIN)/python -m benchmarks

lint: $(STAMP)
	$(BIN)/ruff check device_runtime console_app tests benchmarks training
	$(BIN)/lint-imports

# Installers (installer/README.md): dist/sightline-console/ (+ .tar.gz, .deb) and the
# device .deb, then checks them: the frozen console's --self-test, and the device .deb
# unpacked with its venv built offline. Several minutes; not part of `make test`.
package: sysdeps-test $(STAMP)
	@$(BIN)/python -c 'import PyInstaller' 2>/dev/null || $(PIP) install -q -c requirements/constraints.txt -e '.[package]'
	PYTHON=$(BIN)/python scripts/package.sh all

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
	$(BIN)/python -m device_runtime.sources.gst_setup
	touch $(STAMP)

clean:
	rm -rf $(VENV) build dist *.egg-info
