# Two entry points, each creating .venv and installing what it needs first:
#   make demo   - retrieve and rerank the example corpus (MODEL=path/to/model to use a local model)
#   make test   - the test suite, offline
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
MODEL ?= cross-encoder/nli-deberta-v3-small
EXTRAS ?= dev,onnx,openvino,eval,demo,serve,langchain,llamaindex,haystack,ray

.PHONY: demo test browser lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned: the local CPU build; any other request would pull a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[$(EXTRAS)]" --config-settings editable_mode=compat
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo.py --model "$(MODEL)"

test: $(STAMP) browser
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q

# Debian's chromium and chromium-driver for the results-page test (tests/server/test_page.py skips without them).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null 2>&1 || \
	  { $$SUDO apt-get update -qq >/dev/null 2>&1 && \
	    $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null 2>&1; } || \
	  echo "chromium not installed: the results-page test will be skipped"; }

lint: $(STAMP) typecheck
	$(VENV)/bin/ruff check rerank retrievers eval rerank_cli rerank_server tests examples benchmarks
	$(VENV)/bin/ruff format --check rerank retrievers eval rerank_cli rerank_server tests examples benchmarks

typecheck: $(STAMP)
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
