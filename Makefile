# Thin wrapper over CMake. `make demo` and `make test` are the two commands a newcomer needs.
BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
JOBS       ?= $(shell nproc)
GENERATOR  ?= $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")
CMAKE_FLAGS ?= $(GENERATOR) -DCMAKE_BUILD_TYPE=Release -DWMD_WERROR=ON

.PHONY: all deps build asan tsan test test-asan test-tsan demo bench soak install format clean

all: build

deps:
	@scripts/install-deps

build: deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)

# Unit tests under AddressSanitizer + UndefinedBehaviorSanitizer, in their own build tree.
asan: deps
	cmake -S . -B $(ASAN_BUILD) $(GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWMD_WERROR=ON \
	  -DWMD_SANITIZE=address,undefined -DWMD_BUILD_BENCH=OFF
	cmake --build $(ASAN_BUILD) -j $(JOBS)

test-asan: asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir $(ASAN_BUILD) -L 'unit|sanitize' --output-on-failure

# The threaded parts (network, replicator, segment doorbells) under ThreadSanitizer.
TSAN_TESTS ?= net_tests daemon_tests segment_tests
tsan: deps
	cmake -S . -B $(TSAN_BUILD) $(GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWMD_WERROR=ON \
	  -DWMD_SANITIZE=thread -DWMD_BUILD_BENCH=OFF
	cmake --build $(TSAN_BUILD) -j $(JOBS) --target $(TSAN_TESTS)

test-tsan: tsan
	TSAN_OPTIONS=halt_on_error=1 ctest --test-dir $(TSAN_BUILD) -R '^unit\.(net|daemon|segment)$$' \
	  --output-on-failure

# Everything: sanitizer unit runs first, then the whole suite on the release build, whose
# ctest summary closes the output.
test: test-asan test-tsan build
	ctest --test-dir $(BUILD) --output-on-failure

demo: build
	scripts/demo --build $(BUILD)

bench: build
	bench/run $(BUILD)

# The soak (opt-in, not part of `make test`): 4 daemons, continuous writers, throughput and the
# largest divergence window. SOAK_MINUTES=1 make soak for a short run.
SOAK_MINUTES ?= 10
soak: build
	scripts/soak $(BUILD) $(SOAK_MINUTES)

install: build
	cmake --install $(BUILD) $(if $(PREFIX),--prefix $(PREFIX))

format:
	git ls-files '*.cpp' '*.hpp' '*.c' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD)
