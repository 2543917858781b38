# newsarchive: `make crawl` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Extra arguments for scrapy, e.g. make crawl ARGS="-s ARCHIVE_DIR=/data/news -a outlet=meduza"
ARGS   ?=

.PHONY: install compile crawl test demo schedule bench bench-extract bench-groups clean

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

crawl: compile
	$(BIN)/scrapy crawl news $(ARGS)

test: compile
	$(BIN)/python -m pytest -q tests

demo: compile
	$(BIN)/python -m tests.demo

schedule: compile
	$(BIN)/python -m crawler.schedule $(ARGS)

bench: compile
	$(BIN)/python -m tests.bench.crawl

bench-extract: compile
	$(BIN)/python -m tests.bench.extraction

bench-groups: compile
	$(BIN)/python -m tests.bench.syndication

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
