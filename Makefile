# The README's two commands: `make demo` and `make test`.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
# Debian's interpreter: version-manager shims on PATH cost ~0.5 s per start.
PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || command -v python3)
CMAKE_FLAGS ?=

.PHONY: all deps build demo test test-cpp test-python test-node bench asan tsan clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) -DSNAKEPIT_WERROR=ON -DPython3_EXECUTABLE=$(PYTHON) $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j$(JOBS)

demo: build
	$(BUILD_DIR)/bin/snakepit demo
	$(BUILD_DIR)/bin/snakepit demo sessions
	$(BUILD_DIR)/bin/snakepit demo --adapter node --size 2

test: build
	$(MAKE) --no-print-directory test-python test-node test-cpp

test-cpp:
	ctest --test-dir $(BUILD_DIR) -j$(JOBS) --output-on-failure --timeout 300

test-python:
	$(PYTHON) -m unittest discover -s tests/python -t .

test-node:
	node --test tests/node/*.test.js

# The load generator against its floors and baselines (docs/performance.md),
# then the single-purpose and micro benchmarks. Not part of the tests.
bench: deps $(BUILD_DIR)/CMakeCache.txt
	cmake -S . -B $(BUILD_DIR) -DSNAKEPIT_BENCHMARKS=ON
	cmake --build $(BUILD_DIR) -j$(JOBS) --target snakepit snakepit_pool_bench snakepit_session_store_bench \
	  snakepit_codec_bench snakepit_stream_bench snakepit_tiny_worker snakepit_pipe_floor
	$(BUILD_DIR)/bin/snakepit bench --python $(PYTHON)
	$(BUILD_DIR)/bin/snakepit_pool_bench
	$(BUILD_DIR)/bin/snakepit_session_store_bench
	$(BUILD_DIR)/bin/snakepit_codec_bench
	PATH=$(dir $(PYTHON)):$$PATH $(BUILD_DIR)/bin/snakepit_stream_bench

# Sanitizer builds, each in its own directory (CI runs them after `make test`).
# TSan covers the library's tests; the CLI tests drive a binary from outside.
asan: deps
	cmake -S . -B build-asan -DSNAKEPIT_WERROR=ON -DSNAKEPIT_ASAN=ON -DCMAKE_BUILD_TYPE=Debug
	cmake --build build-asan -j$(JOBS)
	ctest --test-dir build-asan -j$(JOBS) --output-on-failure --timeout 600

# Built with clang: the second compiler the project supports, with -Wthread-safety.
tsan: deps
	CXX=clang++ cmake -S . -B build-tsan -DSNAKEPIT_WERROR=ON -DSNAKEPIT_TSAN=ON -DCMAKE_BUILD_TYPE=Debug
	cmake --build build-tsan -j$(JOBS)
	ctest --test-dir build-tsan -j$(JOBS) --output-on-failure --timeout 600 -L 'unit|integration|stress'

clean:
	rm -rf $(BUILD_DIR) build-asan build-tsan
