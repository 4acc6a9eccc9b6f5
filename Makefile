# OrcTool. Quick start: `make demo`, `make test` (each installs what it needs first).
SWIFT ?= swift

.PHONY: all deps build demo test corpus corpus-dbg compare bench format clean

all: build

deps:
	@bash scripts/deps.sh

build: deps
	$(SWIFT) build

demo: build
	@bash scripts/demo.sh

corpus: deps
	@bash scripts/corpus.sh

corpus-dbg: deps
	@bash scripts/corpus.sh --dbg

# The tests compare against the real objtool on real Debian modules:
# fetch them first (cached outside the repository).
test: build corpus
	ORCTOOL_REQUIRE_CORPUS=1 ORCTOOL_BIN="$$($(SWIFT) build --show-bin-path)/orctool" $(SWIFT) test

compare: deps
	@bash scripts/compare-dump.sh --dbg

bench: deps
	@bash scripts/bench-dump.sh

format:
	$(SWIFT) format --in-place --recursive Sources Tests Package.swift

clean:
	rm -rf .build
