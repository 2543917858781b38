# newsarchive: `make crawl` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# pywb (replay test, README walk-through) has its own venv: its pins clash with Scrapy's
PYWB_VENV  := .venv-pywb
PYWB_STAMP := $(PYWB_VENV)/.installed
# Extra arguments for scrapy, e.g. make crawl ARGS="-s ARCHIVE_DIR=/data/news -a outlet=meduza"
ARGS   ?=

.PHONY: install pywb compile crawl test demo schedule bench bench-extract bench-views bench-groups clean

install: $(STAMP)

# Byte-compile the project as pip does an installed package: an editable install does not,
# and where PYTHONDONTWRITEBYTECODE is set every crawl (and each extraction worker) would
# compile the whole project again at start. Cheap when nothing changed.
compile: install
	@$(BIN)/python -m compileall -q crawler archive tests > /dev/null

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

pywb: $(PYWB_STAMP)

$(PYWB_STAMP): requirements-pywb.txt
	@test -x $(PYWB_VENV)/bin/python || $(PYTHON) -m venv $(PYWB_VENV)
	$(PYWB_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PYWB_VENV)/bin/python -m pip install --quiet -r requirements-pywb.txt
	@touch $(PYWB_STAMP)

crawl: compile
	$(BIN)/scrapy crawl news $(ARGS)

test: compile pywb
	$(BIN)/python -m pytest -q tests

demo: compile
	$(BIN)/python -m tests.demo

schedule: compile
	$(BIN)/python -m crawler.schedule $(ARGS)

bench: compile
	$(BIN)/python -m tests.bench.crawl

bench-extract: compile
	$(BIN)/python -m tests.bench.extraction

# index, wacz (and report, where it exists) timed on a 3 x 1000-article archive: ARGS="--archive DIR" reuses one
bench-views: compile
	$(BIN)/python -m tests.bench.views $(ARGS)

bench-groups: compile
	$(BIN)/python -m tests.bench.syndication

clean:
	rm -rf $(VENV) $(PYWB_VENV) build *.egg-info .pytest_cache
