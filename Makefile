# Frontdesk: `make run` starts the product, `make test` runs every test.
# Both set themselves up on a fresh machine (a virtualenv in .venv, Chromium
# from apt for the browser tests).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8080
DB     ?= sqlite:///var/frontdesk.db
AXE    := tests/widget/.axe/node_modules/axe-core/axe.min.js

.PHONY: run test test-fast lint typecheck chromium screenshots bench wheel package-console clean help

help:
	@echo "make run          start the server on SQLite with a demo tenant (and the console where there is a display)"
	@echo "make test         install what the tests need and run every test"
	@echo "make lint         ruff and mypy --strict"
	@echo "make screenshots  regenerate docs/screenshots/ (Xvfb, dunst, dbus, ImageMagick from apt)"
	@echo "make bench        run the benchmark against a fresh server"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml setup.py | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

run: $(STAMP)
	@mkdir -p var
	@$(BIN)/frontdesk init --db "$(DB)" --name "Lumen" --public-url "http://$(HOST):$(PORT)" --origin "localhost:$(PORT)" --origin "127.0.0.1:$(PORT)"
	@echo "Demo site:  http://$(HOST):$(PORT)/   (the chat widget is in its corner)"
	@echo "Console:    $(BIN)/frontdesk console --server http://$(HOST):$(PORT)"
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
		missing=$$($(BIN)/python -c 'import os; from frontdesk.console import _xcb; print(" ".join(_xcb.missing()) if _xcb.uses_xcb(os.environ) else "")'); \
		if [ -n "$$missing" ]; then \
			echo "The console needs X11 libraries Qt's xcb plugin loads: sudo apt-get install $$missing"; \
		else (sleep 2; $(BIN)/frontdesk console --server "http://$(HOST):$(PORT)") & fi; \
	fi
	@exec $(BIN)/frontdesk serve --db "$(DB)" --host "$(HOST)" --port "$(PORT)"

# System packages the tests use: Chromium for the widget, desktop-file-utils and
# appstream to validate the console's desktop files, dbus for the session bus the
# desktop-notification tests start, Xvfb for the one test that needs X11 (the
# taskbar badge), nginx as the load balancer in front of several nodes, dovecot's IMAP
# server for the email tests' IMAP polling (run by the test itself, no daemon).
# Installed only when missing.
APT_TEST_TOOLS := chromium:chromium desktop-file-validate:desktop-file-utils appstreamcli:appstream dbus-daemon:dbus \
	Xvfb:xvfb nginx:nginx-light clamd:clamav-daemon dovecot:dovecot-imapd
# The libraries Qt's xcb plugin loads (the taskbar-badge test runs the console under Xvfb).
APT_TEST_LIBS := libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-randr0 \
	libxcb-shape0 libxcb-xfixes0 libxcb-xkb1 libxkbcommon-x11-0
chromium:
	@missing=""; for pair in $(APT_TEST_TOOLS); do \
		command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; done; \
	for pkg in $(APT_TEST_LIBS); do dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
		echo "Installing for the tests (apt):$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi

$(AXE):
	npm install --silent --no-audit --no-fund --prefix tests/widget/.axe axe-core@4

# Two workers for everything but the widget (most tests wait on sockets, not the CPU), then the
# widget's browser tests in a process of their own: Playwright's sync API leaves an event loop
# behind that later asyncio.run calls in the same process trip over.
test: $(STAMP) chromium $(AXE) lint
	QT_QPA_PLATFORM=offscreen $(BIN)/pytest -n 2 --dist loadfile --ignore=tests/widget
	QT_QPA_PLATFORM=offscreen $(BIN)/pytest tests/widget

test-fast: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/pytest -m "not slow" -x

# mypy sees the component folders under their installed names through a tree
# of symlinks (the editable install's import hook is invisible to it).
lint: $(STAMP)
	$(BIN)/ruff check server console tests
	@mkdir -p build/typecheck/frontdesk
	@for c in server console widget; do ln -sfn ../../../$$c build/typecheck/frontdesk/$$c; done
	cd build/typecheck && ../../$(BIN)/mypy --config-file ../../pyproject.toml -p frontdesk.server -p frontdesk.console

screenshots: $(STAMP) chromium
	@missing=""; for pair in Xvfb:xvfb dunst:dunst dbus-daemon:dbus import:imagemagick; do \
		command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi
	$(BIN)/python -m frontdesk.console.ui.screenshots docs/screenshots
	FRONTDESK_UPDATE_SCREENSHOTS=1 QT_QPA_PLATFORM=offscreen $(BIN)/pytest -q tests/widget/test_a11y.py -k screenshots

bench: $(STAMP)
	$(BIN)/frontdesk bench all --baseline

wheel: $(STAMP)
	$(BIN)/python -m build --outdir dist .

# The console as a one-folder desktop bundle, dist/console/frontdesk-console/, made by PyInstaller from the
# wheel (packaging/build_console.py; packaging/README.md for Windows and macOS).
package-console: $(STAMP)
	@$(BIN)/python -c "import PyInstaller" 2>/dev/null || $(BIN)/pip install --quiet -e ".[dev,package]"
	QT_QPA_PLATFORM=offscreen $(BIN)/python packaging/build_console.py --dist dist/console --work build/console --archive
	dist/console/frontdesk-console/frontdesk-console --version

clean:
	rm -rf build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
