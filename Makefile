# harden: install, lab image, tests, demo. Run as root on Debian 12 (the lab uses rootful podman).
#   make install    Debian packages + podman config + .venv with harden[test] (fast when done)
#   make lab-image  build the lab container image if podman lacks it (~1 min once)
#   make test       install + lab-image + ruff + pytest (CI runs this)
#   make demo       install + lab-image + lab up + audit of the lab
#   make lab-down   remove the lab started by `make demo`
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.harden-installed

.PHONY: install host-packages lab-image test demo lab-down

install: host-packages $(STAMP)

host-packages:
	@sh hardening/lab/host_setup.sh

$(STAMP): pyproject.toml Makefile
	@if [ ! -x $(VENV)/bin/python ]; then \
		$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "need python >= 3.11, got " + sys.version)' \
		&& $(PYTHON) -m venv $(VENV); \
	fi
	$(VENV)/bin/pip install -q --disable-pip-version-check 'setuptools>=68' wheel
	@# the distribution was called harden before harden-revshell: drop the old one first (same files)
	@$(VENV)/bin/pip uninstall -y -q harden >/dev/null 2>&1 || true
	$(VENV)/bin/pip install -q --disable-pip-version-check -e '.[test]'
	@touch $@

lab-image: install
	$(VENV)/bin/python -m hardening.lab image

test: install lab-image
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -q

demo: install lab-image
	$(VENV)/bin/harden lab up
	@out=reports/demo-$$(date -u +%Y%m%dT%H%M%SZ); rc=0; \
	$(VENV)/bin/harden audit .lab/inventory.ini --known-hosts .lab/known_hosts --out $$out || rc=$$?; \
	if [ $$rc -gt 1 ]; then echo "demo: audit did not complete (exit $$rc)" >&2; exit $$rc; fi; \
	echo; echo "demo: audit done (exit $$rc: $$([ $$rc = 1 ] && echo 'some checks fail, as the lab intends' || echo 'all pass'))"; \
	echo "demo: results in $$out/ ; lab inventory .lab/inventory.ini ; stop the lab with: make lab-down"

lab-down:
	$(VENV)/bin/python -m hardening.lab down
