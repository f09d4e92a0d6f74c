#!/usr/bin/env bash
# gpu-check.sh - the GPU check kit (docs/cuda.md, "The GPU check kit").
#
#   scripts/gpu-check.sh pack [-o KIT] [--build-dir DIR] [--no-build]
#       On a Debian/Ubuntu machine with nvcc (no GPU needed): build lbq with CUDA (DIR, default
#       build-gpu), then write KIT (default build-gpu-kit): kit.tar.gz with bin/ (lbq and the CUDA
#       test programs, test-capi among them) and lib/ (liblbq.so.1 with its device entry, and every
#       shared library the programs load that a bare CUDA image lacks:
#       libhdf5, libcjson, lapacke/openblas, libgomp, ... and their dependencies; glibc and the
#       CUDA driver stay the host's), this script, and MANIFEST.  Fails when KIT would exceed
#       64 MiB (about 28 MB: gzip; the uncompressed libraries are about 80 MB, OpenBLAS 37 MB).
#
#   KIT/gpu-check.sh run [-o SUMMARY] [--dry-run] [--data DIR]
#       On a machine with a GPU and its driver and nothing else: unpack the kit into a scratch
#       directory with a launcher per program that sets LD_LIBRARY_PATH; the bundled data is the
#       repository's data/ beside the kit (KIT/../data) or --data DIR; device probe (lbq --version);
#       lbq selftest --device cuda (every quantizer, CPU vs GPU bit for bit, and the CUDA engine vs
#       its CPU twin); the CUDA test programs; test-capi (the C ABI's device entry
#       lbq_ffi_qdq_device against the host entry lbq_ffi_qdq, bit for bit; seconds); analyze and
#       sweep on the bundled data with
#       --device cuda against --device twin (byte-compare, timing fields aside) and against
#       --device cpu (counts exact, other numbers within 1e-9 relative); lbq bench --device cuda
#       (GB/s and the ratio to a device memcpy); one tensor of 2^31 + 2^20 + 7 elements;
#       compute-sanitizer memcheck and racecheck on a small run where the sanitizer exists.
#       Every step has a time limit; the whole run stays under 8 minutes.  Writes one summary
#       file (default ./gpu-check-summary.txt); exit 0 when every step that ran passed.
#       --dry-run (no GPU): every step runs with --device twin standing in for --device cuda;
#       the steps that need a GPU are listed as "skip (dry run)".  tests/cli/test-gpu-check.sh
#       runs pack --no-build and run --dry-run in the test suite.
#
# One command through the device tool (docs/cuda.md):
#   here:   scripts/gpu-check.sh pack
#   there:  run(command="bash build-gpu-kit/gpu-check.sh run -o $OUT/gpu-check-summary.txt",
#               carry=["build-gpu-kit"], timeout_s=560)
set -u
export LC_ALL=C

die() { echo "gpu-check: error: $*" >&2; exit 1; }
KIT_LIMIT=$((64 * 1024 * 1024))

# ---- pack ------------------------------------------------------------------------------------------
# glibc and the driver are the host's; everything else a program loads is copied
is_host_lib() {
    case "$(basename "$1")" in
        linux-vdso*|ld-linux*|libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|libresolv.so*|libutil.so*) return 0 ;;
        libcuda.so*|libnvidia-*) return 0 ;;
    esac
    return 1
}

do_pack() {
    local src build kit nobuild=0
    src=$(cd "$(dirname "$0")/.." && pwd)
    build=$src/build-gpu
    kit=$src/build-gpu-kit
    while [ $# -gt 0 ]; do
        case "$1" in
            -o) kit=$2; shift 2 ;;
            --build-dir) build=$2; shift 2 ;;
            --no-build) nobuild=1; shift ;;
            *) die "pack: unknown argument '$1'" ;;
        esac
    done
    case "$kit" in /*) ;; *) kit=$PWD/$kit ;; esac
    case "$build" in /*) ;; *) build=$PWD/$build ;; esac
    if [ "$nobuild" = 0 ]; then
        command -v cmake >/dev/null || die "pack: cmake not found"
        mkdir -p "$build" || die "pack: cannot create $build"
        cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DLBQ_CUDA=ON >"$build/pack-configure.log" 2>&1 \
            || { tail -20 "$build/pack-configure.log" >&2; die "pack: configure failed (log: $build/pack-configure.log)"; }
        cmake --build "$build" -j"$(nproc)" --target lbq lbqshared test-cuda test-evaldev test-cuda-errors test-capi >"$build/pack-build.log" 2>&1 \
            || { tail -20 "$build/pack-build.log" >&2; die "pack: build failed (log: $build/pack-build.log)"; }
    fi
    [ -x "$build/lbq" ] || die "pack: no lbq in $build (build first, or drop --no-build)"
    "$build/lbq" --version | grep -q "not built" && die "pack: $build/lbq was built without CUDA"
    rm -rf "$kit"
    local st=$kit/.stage
    mkdir -p "$st/bin" "$st/lib" || die "pack: cannot create $kit"
    local progs="lbq" p
    for p in test-cuda test-evaldev test-cuda-errors test-capi; do [ -x "$build/tests/$p" ] && progs="$progs $p"; done
    # liblbq.so.1 (test-capi dlopens it from LBQ_BUILD = the kit's lib/)
    [ -e "$build/liblbq.so.1" ] && cp -L "$build/liblbq.so.1" "$st/lib/liblbq.so.1"
    for p in $progs; do
        if [ "$p" = lbq ]; then cp "$build/lbq" "$st/bin/"; else cp "$build/tests/$p" "$st/bin/"; fi
        # every library the loader resolves (ldd follows the dependencies of dependencies)
        ldd "$build/${p/#test-/tests/test-}" 2>/dev/null | awk '/=> \// { print $3 } /^\t\// { print $1 }'
    done | sort -u >"$kit/.libs"
    [ -e "$build/liblbq.so.1" ] && ldd "$build/liblbq.so.1" 2>/dev/null | awk '/=> \// { print $3 } /^\t\// { print $1 }' \
        | grep -v 'liblbq\.so' | sort -u >>"$kit/.libs" && sort -u -o "$kit/.libs" "$kit/.libs"
    local l missing
    missing=$(for p in $progs; do ldd "$build/${p/#test-/tests/test-}" | grep 'not found'; done)
    [ -z "$missing" ] || die "pack: unresolved libraries here: $missing"
    while read -r l; do
        is_host_lib "$l" && continue
        cp -L "$l" "$st/lib/" || die "pack: cannot copy $l"
    done <"$kit/.libs"
    rm -f "$kit/.libs"
    cp "$src/scripts/gpu-check.sh" "$kit/gpu-check.sh"
    chmod +x "$kit/gpu-check.sh"
    {
        echo "lbq GPU check kit"
        echo "packed: $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(uname -n) ($(. /etc/os-release 2>/dev/null; echo "${PRETTY_NAME:-?}"), $(ldd --version | head -1))"
        echo "source: $(git -C "$src" rev-parse HEAD 2>/dev/null || echo '?')$(git -C "$src" diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
        echo "build: $("$build/lbq" --version)"
        echo "programs: $progs"
        echo "libraries (lib/ in kit.tar.gz, loaded through the launchers' LD_LIBRARY_PATH):"
        (cd "$st/lib" && ls -l | awk 'NR > 1 { printf "  %-40s %9d\n", $9, $5 }')
        echo "host libraries (not packed): glibc, the CUDA driver"
        echo "data: the repository's data/ beside the kit (run --data DIR to change)"
    } >"$kit/MANIFEST"
    tar -czf "$kit/kit.tar.gz" -C "$st" bin lib || die "pack: tar failed"
    rm -rf "$st"
    local size
    size=$(du -sb "$kit" | cut -f1)
    echo "size: $size bytes" >>"$kit/MANIFEST"
    [ "$size" -le "$KIT_LIMIT" ] || die "pack: $kit is $size bytes, over 64 MiB"
    echo "gpu-check: packed $kit ($size bytes; programs: $progs)"
}

# ---- run ---------------------------------------------------------------------------------------------
KIT=""
SUMMARY=""
DATA=""
DRY=0
NPASS=0; NFAIL=0; NSKIP=0
T0=$(date +%s)
BUDGET=${GPU_CHECK_BUDGET:-460}

log() { printf '%s\n' "$*" >>"$SUMMARY"; printf '%s\n' "$*"; }
# step NAME LIMIT_S CMD... : run with a time limit, record pass/fail, seconds and the last lines
step() {
    local name=$1 lim=$2; shift 2
    local t0 t1 rc out
    # the whole run stays within BUDGET seconds (default 460, under 8 minutes): a step gets at most
    # what is left, and none starts with less than 15 s
    local left=$(( BUDGET - ($(date +%s) - T0) ))
    if [ "$left" -lt 15 ]; then NFAIL=$((NFAIL + 1)); log "FAIL  $name  (not run: the time budget of $BUDGET s is used up)"; return 1; fi
    [ "$lim" -gt "$left" ] && lim=$left
    out=$WORK/step.out
    t0=$(date +%s.%N)
    timeout -k 5 "$lim" bash -c '"$@"' _ "$@" >"$out" 2>&1
    rc=$?
    t1=$(date +%s.%N)
    local secs
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    if [ $rc -eq 0 ]; then NPASS=$((NPASS + 1)); log "PASS  $name  (${secs} s)"
    else
        NFAIL=$((NFAIL + 1))
        [ $rc -eq 124 ] && log "FAIL  $name  (timed out after $lim s)" || log "FAIL  $name  (exit $rc, ${secs} s)"
    fi
    tail -n "${STEP_TAIL:-8}" "$out" | sed 's/^/      | /' | tee -a "$SUMMARY"
    return $rc
}
skip() { NSKIP=$((NSKIP + 1)); log "SKIP  $1  ($2)"; }

# the JSON or TSV of two runs without the fields that may differ (timing, threads, device)
normalize() { grep -Ev '"(seconds|threads|device|elapsed)":' "$1"; }

# numcmp A B RTOL: line by line; integers must be equal, other numbers within RTOL relative
numcmp() {
    awk -v rtol="$3" '
        function isnum(s) { return s ~ /^-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/ }
        function isint(s) { return s ~ /^-?[0-9]+$/ }
        FNR == NR { a[FNR] = $0; na = FNR; next }
        {
            nb = FNR
            if (a[FNR] == $0) next
            x = a[FNR]; y = $0
            gsub(/[,:\[\]{}"\t]/, " ", x); gsub(/[,:\[\]{}"\t]/, " ", y)
            n1 = split(x, X, / +/); n2 = split(y, Y, / +/)
            if (n1 != n2) { bad++; if (!first) first = FNR ": " a[FNR] " <> " $0; next }
            for (i = 1; i <= n1; i++) {
                if (X[i] == Y[i]) continue
                if (isnum(X[i]) && isnum(Y[i]) && !isint(X[i]) && !isint(Y[i])) {
                    d = X[i] - Y[i]; if (d < 0) d = -d
                    s = (X[i] < 0 ? -X[i] : X[i]); t = (Y[i] < 0 ? -Y[i] : Y[i]); if (t > s) s = t
                    r = (s > 0) ? d / s : 0
                    if (r > worst) worst = r
                    if (r <= rtol) { nearly++; continue }
                }
                bad++; if (!first) first = FNR ": " a[FNR] " <> " $0; break
            }
        }
        END {
            if (na != nb) { printf "line counts differ: %d vs %d\n", na, nb; exit 1 }
            printf "%d lines: %d numbers differ within %g (largest relative difference %.3g), %d mismatches\n", na, nearly, rtol, worst, bad
            if (bad) { print "first: " first; exit 1 }
        }' <(normalize "$1") <(normalize "$2")
}

# compare_runs WHAT A_FILE(S) B_FILE(S) : byte-compare after normalize
bytecmp() {
    if cmp -s <(normalize "$1") <(normalize "$2"); then echo "identical apart from timing/device fields ($(wc -c <"$1") bytes)"
    else echo "differ:"; diff <(normalize "$1") <(normalize "$2") | head -8; return 1; fi
}

analyze3() {   # analyze3 FILE ARGS... : cuda (or twin in a dry run), twin, cpu; compare
    local f=$1; shift
    local tag
    tag=$(basename "$f" .h5)-$(echo "$*" | tr -c 'a-zA-Z0-9\n' '_')
    "$LBQ" analyze "$f" "$@" --device "$DEV" --json "$WORK/a-$tag-dev.json" -q >/dev/null || return 1
    "$LBQ" analyze "$f" "$@" --device twin --json "$WORK/a-$tag-twin.json" -q >/dev/null || return 1
    "$LBQ" analyze "$f" "$@" --device cpu --json "$WORK/a-$tag-cpu.json" -q >/dev/null || return 1
    local r rc=0
    r=$(bytecmp "$WORK/a-$tag-dev.json" "$WORK/a-$tag-twin.json") || rc=1
    echo "$DEV vs twin: $r"
    r=$(numcmp "$WORK/a-$tag-dev.json" "$WORK/a-$tag-cpu.json" 1e-9) || rc=1
    echo "$DEV vs cpu: $r"
    return $rc
}
sweep3() {     # sweep3 FILE ARGS...
    local f=$1; shift
    local d k rc=0 r
    local names=(dev twin cpu) devs=("$DEV" twin cpu)
    local b=$WORK/s-$(basename "$f" .h5)
    for k in 0 1 2; do
        local o=$b-${names[$k]} t0 t1
        d=${devs[$k]}
        t0=$(date +%s.%N)
        "$LBQ" sweep "$f" -o "$o" --no-plot --no-swamp -q --device "$d" "$@" || return 1
        t1=$(date +%s.%N)
        echo "sweep --device $d: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s, $(grep -c '"label"' "$o/results.json") configs"
    done
    r=$(bytecmp "$b-dev/results.json" "$b-twin/results.json") || rc=1; echo "$DEV vs twin results.json: $r"
    r=$(bytecmp "$b-dev/results.tsv" "$b-twin/results.tsv") || rc=1; echo "$DEV vs twin results.tsv: $r"
    r=$(numcmp "$b-dev/results.json" "$b-cpu/results.json" 1e-9) || rc=1; echo "$DEV vs cpu results.json: $r"
    r=$(numcmp "$b-dev/results.tsv" "$b-cpu/results.tsv" 1e-5) || rc=1; echo "$DEV vs cpu results.tsv: $r"
    return $rc
}

sweep2() {     # sweep2 FILE : default axes, the device and the CPU only (timing)
    local f=$1 d o t0 t1
    for d in "$DEV" cpu; do
        o=$WORK/d-$d
        t0=$(date +%s.%N)
        "$LBQ" sweep "$f" -o "$o" --no-plot --no-swamp -q --device "$d" || return 1
        t1=$(date +%s.%N)
        echo "default sweep --device $d: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s, $(grep -c '"label"' "$o/results.json") configs"
    done
    local r
    r=$(numcmp "$WORK/d-$DEV/results.json" "$WORK/d-cpu/results.json" 1e-9) || { echo "$DEV vs cpu results.json: $r"; return 1; }
    echo "$DEV vs cpu results.json: $r"
}

do_run() {
    KIT=$(cd "$(dirname "$0")" && pwd)
    SUMMARY=$PWD/gpu-check-summary.txt
    while [ $# -gt 0 ]; do
        case "$1" in
            -o) SUMMARY=$2; shift 2 ;;
            --dry-run) DRY=1; shift ;;
            --data) DATA=$2; shift 2 ;;
            *) die "run: unknown argument '$1'" ;;
        esac
    done
    [ -f "$KIT/kit.tar.gz" ] || die "run: $KIT is not a kit (make one with: scripts/gpu-check.sh pack)"
    [ -n "$DATA" ] || { [ -d "$KIT/data" ] && DATA=$KIT/data || DATA=$KIT/../data; }
    ls "$DATA"/*.h5 >/dev/null 2>&1 || die "run: no .h5 files in $DATA (--data DIR)"
    DATA=$(cd "$DATA" && pwd)
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/lbq-gpu-check.XXXXXX") || die "mktemp"
    trap 'rm -rf "$WORK"' EXIT
    local K=$WORK/kit p
    mkdir -p "$K" && tar -xzf "$KIT/kit.tar.gz" -C "$K" || die "run: cannot unpack $KIT/kit.tar.gz"
    for p in "$K"/bin/*; do     # launchers: the kit's libraries first, then the host's
        printf '#!/bin/sh\nd=$(dirname "$(readlink -f "$0")")\nLD_LIBRARY_PATH="$d/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "$d/bin/%s" "$@"\n' "$(basename "$p")" >"$K/$(basename "$p")"
        chmod +x "$K/$(basename "$p")"
    done
    LBQ=$K/lbq
    : >"$SUMMARY" || die "run: cannot write $SUMMARY"
    DEV=cuda
    [ "$DRY" = 1 ] && DEV=twin
    log "lbq GPU check kit: $( [ "$DRY" = 1 ] && echo "DRY RUN (no GPU: --device twin stands in for cuda)" || echo run )"
    log "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); host: $(uname -n) $(uname -r); $(ldd --version 2>/dev/null | head -1)"
    sed -n 's/^\(packed\|source\|build\|size\):/kit \1:/p' "$KIT/MANIFEST" | while read -r l; do log "$l"; done
    if command -v nvidia-smi >/dev/null; then
        log "nvidia-smi: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | head -2 | tr '\n' ';')"
    else
        log "nvidia-smi: not found"
    fi
    export LBQ WORK DEV
    export -f analyze3 sweep3 sweep2 bytecmp numcmp normalize
    local big=$(( (1 << 31) + (1 << 20) + 7 ))

    # 1. probe: the launcher, every library from the kit, the device and SASS/JIT
    step "libraries: every library of the kit's programs resolves (glibc and driver from the host)" 30 \
        bash -c 'for p in "$1"/bin/*; do LD_LIBRARY_PATH="$1/lib" ldd "$p"; done >"$1/ldd.txt"; grep -c "=> $1/lib/" "$1/ldd.txt" | sed "s/^/libraries from the kit: /"; grep "not found" "$1/ldd.txt"; ! grep -q "not found" "$1/ldd.txt"' _ "$K"
    step "device probe: lbq --version" 60 "$LBQ" --version
    if [ "$DRY" = 0 ] && ! grep -q "CUDA device:" "$WORK/step.out"; then
        log "no usable CUDA device: the GPU steps cannot run (see the probe above)"
    fi
    # 2. agreement
    if [ "$DRY" = 0 ]; then
        step "lbq selftest --device cuda (every quantizer CPU vs GPU bit for bit; CUDA engine vs its CPU twin)" 150 "$LBQ" selftest --device cuda
        step "test-cuda (registry loop, CPU vs GPU, many pieces)" 90 "$K/test-cuda"
        step "test-evaldev (engine: GPU vs twin bit for bit, twin vs CPU engine)" 90 "$K/test-evaldev"
        step "test-cuda-errors (error text from worker threads, sticky errors)" 60 "$K/test-cuda-errors"
        if [ -x "$K/test-capi" ]; then
            step "test-capi (C ABI; lbq_ffi_qdq_device vs lbq_ffi_qdq bit for bit, and vs its CPU twin)" 60 \
                env LBQ_BUILD="$K/lib" LBQ_TEST_REQUIRE_DEVICE=1 "$K/test-capi"
        else
            skip "test-capi" "not in the kit"
        fi
    else
        step "lbq selftest --device cpu --quick" 120 "$LBQ" selftest --device cpu --quick
        skip "lbq selftest --device cuda" "dry run"
        step "test-evaldev (twin vs CPU engine; no device: device 1 fails cleanly)" 120 "$K/test-evaldev"
        step "test-cuda-errors" 60 "$K/test-cuda-errors"
        if [ -x "$K/test-capi" ]; then
            step "test-capi (C ABI; the device entry's CPU twin vs lbq_ffi_qdq; no device: status 5)" 60 \
                env LBQ_BUILD="$K/lib" "$K/test-capi"
        else
            skip "test-capi" "not in the kit"
        fi
    fi
    # 3. analyze and sweep on the bundled data
    local f
    for f in "$DATA"/*.h5; do
        step "analyze $(basename "$f") --recipe lpmm4: $DEV vs twin (bytes) vs cpu (numbers)" 90 analyze3 "$f" --recipe lpmm4
        step "analyze $(basename "$f") block64-dtree:b2:sr / block64-log:b2: $DEV vs twin vs cpu" 90 analyze3 "$f" --quant-m block64-dtree:b2:sr --quant-v block64-log:b2
    done
    # 4. speed, size, sanitizers
    if [ "$DRY" = 0 ]; then
        STEP_TAIL=20 step "lbq bench --device cuda --size 256M (GB/s, fraction of a device memcpy)" 120 "$LBQ" bench --device cuda --size 256M --reps 20
        step "one tensor of $big elements (> 2^31): GPU vs CPU bit for bit" 240 "$LBQ" selftest --device cuda --quick --big "$big"
        local san
        san=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
        if [ -n "$san" ]; then
            step "compute-sanitizer memcheck: analyze sample-early --device cuda" 120 \
                env LD_LIBRARY_PATH="$K/lib" "$san" --tool memcheck --error-exitcode 9 "$K/bin/lbq" analyze "$DATA/sample-early.h5" --quant-m block128-dtree:b4 --quant-v block128-log:b2 --device cuda -q
            step "compute-sanitizer racecheck: analyze sample-early --device cuda" 150 \
                env LD_LIBRARY_PATH="$K/lib" "$san" --tool racecheck --error-exitcode 9 "$K/bin/lbq" analyze "$DATA/sample-early.h5" --quant-m block128-dtree:b4 --quant-v block128-log:b2 --device cuda -q
        else
            skip "compute-sanitizer memcheck and racecheck" "compute-sanitizer not found"
        fi
    else
        skip "lbq bench --device cuda" "dry run"
        skip "one tensor of $big elements" "dry run"
        skip "compute-sanitizer memcheck and racecheck" "dry run"
    fi
    # 5. sweeps (last: the longest)
    if [ "$DRY" = 0 ]; then
        step "sweep sample-late.h5 (4 maps, block+rank1, bits 2,3,4,8, blocks 32,128,2048): cuda vs twin (bytes) vs cpu (numbers)" 200 \
            sweep3 "$DATA/sample-late.h5" --map dtree,linear,log,fp8e4m3 --bits 2,3,4,8 --block 32,128,2048
    else
        step "sweep sample-early.h5 (small axes): twin vs twin vs cpu" 120 sweep3 "$DATA/sample-early.h5" \
            --map dtree,linear,log --bits 2,4 --block 64,2048
    fi
    [ "$DRY" = 0 ] && step "sweep sample-late.h5, default axes: cuda vs cpu (numbers) and times" 150 sweep2 "$DATA/sample-late.h5"
    log "total: $NPASS passed, $NFAIL failed, $NSKIP skipped in $(( $(date +%s) - T0 )) s"
    [ "$NFAIL" = 0 ]
}

case "${1:-}" in
    pack) shift; do_pack "$@" ;;
    run) shift; do_run "$@" ;;
    numcmp) shift; [ $# = 3 ] || die "numcmp A B RTOL"; numcmp "$@" ;;     # for tests/cli/test-gpu-check.sh
    bytecmp) shift; [ $# = 2 ] || die "bytecmp A B"; bytecmp "$@" ;;
    *) sed -n '2,/^set -u/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
