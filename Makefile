# lbq: the two commands of the README, wrapping scripts/setup.sh and CMake.
#   make demo   install what is missing, build, analyze the bundled real data (table + figures)
#   make test   install what is missing, build (CUDA when nvcc is present) and run the whole suite,
#               then run it again in a CPU-only AddressSanitizer+UBSan build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
SAMPLE ?= data/sample-late.h5

.PHONY: all setup build demo test test-asan clean data

all: build

setup:
	@bash scripts/setup.sh

build: setup
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

demo: build
	./$(BUILD)/lbq analyze $(SAMPLE) --recipe lpmm4 --params 7e9
	./$(BUILD)/lbq sweep $(SAMPLE) -o out/sweep
	@echo "figures: out/sweep/*.png (docs/figures.md explains each)"

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)
	@$(MAKE) --no-print-directory test-asan

test-asan: setup
	@cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=Debug -DLBQ_CUDA=OFF -DLBQ_SANITIZE=ON >/dev/null
	@cmake --build $(BUILD)-asan -j$(JOBS)
	cd $(BUILD)-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -j$(JOBS)

data:
	@bash scripts/setup.sh --with-python
	/usr/bin/python3 experiments/dump/make_sample.py --out data/

clean:
	rm -rf $(BUILD) $(BUILD)-asan
