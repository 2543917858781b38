# newsarchive: `make crawl` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Extra arguments for scrapy, e.g. make crawl ARGS="-s ARCHIVE_DIR=/data/news -a outlet=meduza"
ARGS   ?=

.PHONY: install crawl test demo schedule bench bench-extract clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

crawl: install
	$(BIN)/scrapy crawl news $(ARGS)

test: install
	$(BIN)/python -m pytest -q tests

demo: install
	$(BIN)/python -m crawler.demo

schedule: install
	$(BIN)/python -m crawler.schedule $(ARGS)

bench: install
	$(BIN)/python -m tests.bench.crawl

bench-extract: install
	$(BIN)/python -m tests.bench.extraction

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
