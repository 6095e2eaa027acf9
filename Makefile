# synthset: every target installs what it needs into .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: demo readme-grids demo-quick test test-fast lint bench clean-demo system-deps

# Debian data packages: WordNet 3.0 (offline synset names) and Fashion-MNIST (real VAE data);
# redis-server for the shared crawl frontier's tests.
system-deps:
	@if [ ! -f /usr/share/wordnet/data.noun ] || [ ! -d /usr/share/datasets/fashion-mnist ] \
		|| ! command -v redis-server >/dev/null; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wordnet-base dataset-fashion-mnist redis-server; \
	fi

$(STAMP): setup.cfg constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[model,dev]'
	touch $(STAMP)

demo: system-deps $(STAMP)
	$(BIN)/python -m synthset.demo --out demo

# The README's grids: the demo's own sample and reconstruction grids, drawn by the same commands.
readme-grids: demo
	$(BIN)/python -m synthset.readme_grids --run demo/run --export demo/datasets/demo --out docs

demo-quick: system-deps $(STAMP)
	$(BIN)/python -m synthset.demo --out demo-quick --quick

test: system-deps $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not model and not demo and not packaging"

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	for script in benchmarks/*.py; do $(BIN)/python $$script || exit 1; done

clean-demo:
	rm -rf demo demo-quick
