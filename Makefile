# lbq: the two commands of the README, wrapping scripts/setup.sh and CMake.
#   make demo   install what is missing, build, analyze the bundled real data (table + figures)
#   make test   install what is missing, build (CUDA when nvcc is present) and run the whole suite,
#               then run it again in a CPU-only AddressSanitizer+UBSan build, then the MPI test
#               (mpirun -n 2 == one process) in a CPU-only -DLBQ_MPI=ON build (make test-mpi), then
#               each libFuzzer harness for FUZZ_CI_SECONDS (make test-fuzz; skipped without clang)
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
SAMPLE ?= data/sample-late.h5
PREFIX ?= /usr/local

.PHONY: all setup build demo install test test-asan test-mpi test-fuzz clean data closed-loop

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

# make install [PREFIX=/usr/local]: PREFIX/bin/lbq, PREFIX/share/lbq/{plots,python,data}, PREFIX/share/doc/lbq
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)
	@$(MAKE) --no-print-directory test-asan
	@$(MAKE) --no-print-directory test-mpi
	@$(MAKE) --no-print-directory test-fuzz

test-asan: setup
	@cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=Debug -DLBQ_CUDA=OFF -DLBQ_SANITIZE=ON >/dev/null
	@cmake --build $(BUILD)-asan -j$(JOBS)
	cd $(BUILD)-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -j$(JOBS)

# the MPI build (OpenMPI, scripts/setup.sh): only lbq itself and the MPI test (tests/cli/test-mpi.sh)
test-mpi: setup
	@cmake -S . -B $(BUILD)-mpi -DCMAKE_BUILD_TYPE=Release -DLBQ_CUDA=OFF -DLBQ_MPI=ON >/dev/null
	@cmake --build $(BUILD)-mpi -j$(JOBS) --target lbq
	cd $(BUILD)-mpi && ctest --output-on-failure -R mpi

# make closed-loop [CLOSED_LOOP_ARGS=...]: the closed-loop experiment (experiments/closed-loop/README.md):
# train the bundled byte-level transformer with quantized Adam states (lbq.torch) under every
# configuration x 3 seeds, with lbq's static metrics of the same configurations; out/closed-loop/
CLOSED_LOOP_ARGS ?=
closed-loop: build
	/usr/bin/python3 experiments/closed-loop/closed_loop.py --lbq $(BUILD)/lbq --out out/closed-loop $(CLOSED_LOOP_ARGS)

data:
	@bash scripts/setup.sh --with-python
	/usr/bin/python3 experiments/dump/make_sample.py --out data/

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-mpi

# make test-fuzz [FUZZ_CI_SECONDS=20]: the fuzz step of make test.  Installs clang and libFuzzer if
# missing (scripts/setup.sh --with-fuzz) and fuzzes each of the three harnesses FUZZ_CI_SECONDS
# (build-fuzz/, corpus seeded from the repository on a fresh clone); skipped with a note where clang
# cannot build them.  Fails only on a finding in lbq: crashes inside libhdf5 itself are counted, not
# failed (FUZZ_STRICT_HDF5=0), and an input counts as a hang only after 30 s (FUZZ_TIMEOUT; 10 s in
# make fuzz), so a loaded machine does not fail the step.
FUZZ_CI_SECONDS ?= 20
test-fuzz:
	@bash scripts/setup.sh --with-fuzz
	FUZZ_TIMEOUT=$${FUZZ_TIMEOUT:-30} FUZZ_STRICT_HDF5=$${FUZZ_STRICT_HDF5:-0} bash fuzz/run.sh --optional $(FUZZ_CI_SECONDS)

# make fuzz [FUZZ_SECONDS=60]: build the libFuzzer harnesses with clang (build-fuzz/) and fuzz each
# for FUZZ_SECONDS; exits non-zero on any crash, hang or leak in lbq (fuzz/README.md)
FUZZ_SECONDS ?= 60
.PHONY: fuzz
fuzz:
	bash fuzz/run.sh $(FUZZ_SECONDS)
