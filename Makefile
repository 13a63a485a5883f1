# The two commands a new user needs: `make demo` and `make test`.
# Everything else (npm dependencies, the TypeScript build) happens on demand.

SHELL := /bin/bash
NPM_STAMP := node_modules/.minos-installed
SOURCES := $(shell find src -name '*.ts' 2>/dev/null) tsconfig.json
TAP_FLAGS ?=

.PHONY: all build deps lint test test-full test-crash demo bench wasm clean

all: build

# `npm install`, not `npm ci`: a transitive dev dependency of jco-transpile
# (jco-node-fs) lists optional platform packages the registry does not have,
# which `npm ci` refuses; install leaves package-lock.json as it is. Scripts
# are skipped: the only ones are the native builds of zstd-napi and
# lzma-native, and we use only the C sources they ship (wasm/build.mjs).
$(NPM_STAMP): package.json package-lock.json
	npm install --no-audit --no-fund --loglevel=error --ignore-scripts
	@touch $@

# tsc output, then the bundle bin/minos.js runs (tools/bundle.mjs says why).
dist/.stamp: $(NPM_STAMP) $(SOURCES) tools/bundle.mjs tools/codecache.mjs bin/minos.js bin/load.cjs
	rm -rf dist
	npx tsc -p tsconfig.json
	node tools/bundle.mjs
	node tools/codecache.mjs
	node tools/manpage.mjs
	@touch $@

build: dist/.stamp

# The Debian packages the tests use (tools/test-deps.sh installs them as root,
# or names the command to run).
deps:
	@bash tools/test-deps.sh

# eslint, and the import directions between the folders of src/ (tools/imports.mjs).
lint: $(NPM_STAMP)
	npx eslint src test
	node tools/imports.mjs

test: build deps lint
	npx tap $(TAP_FLAGS) || { node tools/tapfailures.mjs; exit 1; }

# Longer randomized runs (differential solver tests, crash trials).
test-full: build deps
	MINOS_FULL=1 npx tap --timeout 3600 $(TAP_FLAGS)

# Several hundred SIGKILL, ENOSPC and EROFS trials during install, upgrade, remove, rollback,
# key and repository changes and recovery (a handful of each run in `make test`).
test-crash: build deps
	MINOS_FULL=1 npx tap --timeout 3600 $(TAP_FLAGS) test/live-crash.test.ts test/debian-live.test.ts

demo: build
	bash images/demo.sh

bench: build
	node bench/run.mjs

# Rebuild the committed WebAssembly and bindings from the zstd and xz sources (needs
# Debian: clang lld wasi-libc libclang-rt-14-dev-wasm32).
wasm: $(NPM_STAMP)
	node wasm/build.mjs

clean:
	rm -rf dist .tap bench/.work out
