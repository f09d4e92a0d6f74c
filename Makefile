# lbq: the two commands of the README, wrapping scripts/setup.sh and CMake.
#   make demo   install what is missing, build, analyze the bundled real data (table + figures)
#   make test   install what is missing, build (CUDA when nvcc is present) and run the whole suite,
#               then run it again in a CPU-only AddressSanitizer+UBSan build, then the MPI test
#               (mpirun -n 2 == one process) in a CPU-only -DLBQ_MPI=ON build (make test-mpi)
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
SAMPLE ?= data/sample-late.h5

.PHONY: all setup build demo test test-asan test-mpi clean data

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
	@$(MAKE) --no-print-directory test-mpi

test-asan: setup
	@cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=Debug -DLBQ_CUDA=OFF -DLBQ_SANITIZE=ON >/dev/null
	@cmake --build $(BUILD)-asan -j$(JOBS)
	cd $(BUILD)-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -j$(JOBS)

# the MPI build (OpenMPI, scripts/setup.sh): only lbq itself and the MPI test (tests/cli/test-mpi.sh)
test-mpi: setup
	@cmake -S . -B $(BUILD)-mpi -DCMAKE_BUILD_TYPE=Release -DLBQ_CUDA=OFF -DLBQ_MPI=ON >/dev/null
	@cmake --build $(BUILD)-mpi -j$(JOBS) --target lbq
	cd $(BUILD)-mpi && ctest --output-on-failure -R mpi

data:
	@bash scripts/setup.sh --with-python
	/usr/bin/python3 experiments/dump/make_sample.py --out data/

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-mpi

# make fuzz [FUZZ_SECONDS=60]: build the libFuzzer harnesses with clang (build-fuzz/) and fuzz each
# for FUZZ_SECONDS; exits non-zero on any crash, hang or leak in lbq (fuzz/README.md)
FUZZ_SECONDS ?= 60
.PHONY: fuzz
fuzz:
	bash fuzz/run.sh $(FUZZ_SECONDS)
