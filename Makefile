# herald: the two entry points a new machine needs, plus a few helpers.
#   make run    install what is missing, build (Release), start heraldd
#   make test   install what is missing, build, run every test suite
.PHONY: run test build lint clean help deps sdk bench

BUILD_DIR ?= build
JOBS ?= 2
LISTEN ?= 127.0.0.1:7070
DATA_DIR ?= ./var

help:
	@echo "make run    install deps, build, start heraldd on $(LISTEN) (data in $(DATA_DIR))"
	@echo "make test   install deps, build, run every test suite"
	@echo "make bench  benchmarks (docs/benchmarks.md); make bench ARGS=--quick for the ~1 minute smoke"

deps:
	./scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD_DIR) -j$(JOBS)

run: build
	@echo "heraldd: gRPC on $(LISTEN); data in $(DATA_DIR); admin token in $(DATA_DIR)/admin.token (created on first start); loopback webhook targets allowed for local receivers"
	./$(BUILD_DIR)/server/heraldd --listen_address=$(LISTEN) --data_dir=$(DATA_DIR) --log_format=text --allow_loopback_targets=true

test:
	./scripts/test.sh

# Benchmarks: builds into build-bench (Release), prints the table, writes
# tests/bench/results/<timestamp>.json. ARGS=--quick scales every workload down.
bench:
	./tests/bench/run.sh $(ARGS)

sdk: deps
	./scripts/gen-sdk.sh

lint: deps
	.tools/node_modules/.bin/buf lint

clean:
	rm -rf $(BUILD_DIR) build-asan
