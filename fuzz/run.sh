#!/usr/bin/env bash
# fuzz/run.sh - build the libFuzzer harnesses (clang, ASan + UBSan) and fuzz each for a bounded time.
#
#   bash fuzz/run.sh [SECONDS] [HARNESS...]   fuzz each harness SECONDS (default 60); harnesses:
#                                             fuzz-spec fuzz-h5 fuzz-json (default: all three)
#   bash fuzz/run.sh --optional [SECONDS] ... the same, but exit 0 with a note when clang or libFuzzer
#                                             is missing (make test: CI fuzzes only where it can)
#   bash fuzz/run.sh --build                  build only (build-fuzz/)
#   bash fuzz/run.sh --seeds                  rewrite fuzz/corpus/fuzz-h5/*.h5 with gen-h5-seeds
#
# Environment: FUZZ_OUT (default build-fuzz), FUZZ_JOBS (build parallelism), FUZZ_TIMEOUT (seconds
# one input may take before it counts as a hang, default 10), FUZZ_STRICT_HDF5=1 (crashes inside
# libhdf5 itself fail the run too), FUZZ_ARGS (extra libFuzzer flags).
#
# Each harness fuzzes a working corpus build-fuzz/corpus/<harness> (kept between runs, seeded from
# fuzz/corpus/<harness>, and for fuzz-h5 also tests/data/*.h5).  A crash, hang, leak or invariant
# violation stops libFuzzer and leaves the reproducer in build-fuzz/artifacts/<harness>/.  Every
# finding is classified from its report:
#   lbq   the fault is in lbq (or an lbq invariant failed): the run exits non-zero;
#   hdf5  the faulting frame is inside libhdf5 and no lbq-owned memory is involved: a known class of
#         upstream bugs on corrupt files (fuzz/README.md); the reproducer moves to
#         artifacts/<harness>/hdf5/ with its report, and fuzzing resumes for the remaining time.
# At the end a table gives, per harness: time, executions, exec/s, corpus size, lbq findings
# (crashes / hangs / OOMs / leaks), and libhdf5-internal crashes (count, distinct signatures).
set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)
OUT=${FUZZ_OUT:-build-fuzz}
JOBS=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
TIMEOUT=${FUZZ_TIMEOUT:-10}
ALL="fuzz-spec fuzz-h5 fuzz-json"

die() { echo "fuzz/run.sh: $*" >&2; exit 2; }
OPTIONAL=0
# a missing tool: an error, or with --optional a note and success
unavailable() {
    if [ "$OPTIONAL" = 1 ]; then echo "fuzz/run.sh: fuzzing skipped: $*"; exit 0; fi
    die "$*"
}

build() {
    command -v clang >/dev/null 2>&1 || unavailable "clang not found (Debian: bash scripts/setup.sh --with-fuzz installs clang and libclang-rt-<version>-dev)"
    local probe; probe=$(mktemp -d)
    printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' > "$probe/p.c"
    if ! clang -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" >/dev/null 2>&1; then
        rm -rf "$probe"; unavailable "clang cannot link -fsanitize=fuzzer (is libclang_rt.fuzzer installed? Debian: libclang-rt-<version>-dev)"
    fi
    rm -rf "$probe"
    echo "fuzz/run.sh: building the harnesses in $OUT/ (clang, ASan + UBSan + libFuzzer)"
    mkdir -p "$OUT"
    if ! make -f fuzz/Makefile -j"$JOBS" OUT="$OUT" > "$OUT/build.log" 2>&1; then
        tail -30 "$OUT/build.log" >&2
        die "build failed (full log: $OUT/build.log)"
    fi
}

[ "${1:-}" = --optional ] && { OPTIONAL=1; shift; }
case "${1:-}" in
    --build) build; exit 0 ;;
    --seeds) build; "$OUT/gen-h5-seeds" fuzz/corpus/fuzz-h5 || die "gen-h5-seeds failed"; ls -l fuzz/corpus/fuzz-h5; exit 0 ;;
    -h|--help) sed -n '2,/^set -u/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
esac

SECS=60
if [ $# -gt 0 ] && [[ "$1" =~ ^[0-9]+$ ]]; then SECS=$1; shift; fi
HARNESSES=${*:-$ALL}
for h in $HARNESSES; do case " $ALL " in *" $h "*) ;; *) die "unknown harness '$h' (known: $ALL)";; esac; done
[ "$SECS" -ge 1 ] || die "SECONDS must be >= 1"

build

# a malloc above 2 GiB returns NULL (as on a machine without that much memory) instead of aborting:
# libhdf5 asks for sizes it reads from the file, and lbq must then fail with "out of memory"
export ASAN_OPTIONS="allocator_may_return_null=1:max_allocation_size_mb=2048:detect_leaks=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}"
export LSAN_OPTIONS="suppressions=$ROOT/fuzz/lsan.supp:${LSAN_OPTIONS:-}"

# classify LOG: prints "lbq|hdf5 KIND SIGNATURE" for the first sanitizer / libFuzzer report in LOG
classify() {
    awk '
    function skip(l) {
        return l ~ /__asan|__interceptor_|__sanitizer|__ubsan|__lsan|fuzzer::|libc\.so|libc_start|__libc_|_start |in (malloc|calloc|realloc|free|abort|raise|strdup|memcpy|memmove|memset) |in __(mem|str)[a-z_]* |sysdeps\/|H5MM_|H5FL_|LLVMFuzzer|in main /
    }
    !started && /ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|fuzz invariant violated/ {
        started = 1
        if ($0 ~ /fuzz invariant violated/) { kind = "invariant"; lbqmark = 1 }
        else if ($0 ~ /runtime error:/) { kind = "ubsan"; lbqmark = 1 }
        else if ($0 ~ /LeakSanitizer/) kind = "leak"
        else if ($0 ~ /libFuzzer: timeout/) kind = "hang"
        else if ($0 ~ /out-of-memory/) kind = "oom"
        else if ($0 ~ /libFuzzer: deadly signal/) kind = "signal"
        else if (match($0, /AddressSanitizer: [a-zA-Z-]+/)) kind = substr($0, RSTART + 18, RLENGTH - 18)
        else kind = "crash"
        if ($0 ~ /invariant violated/) { sig = $0; sub(/.*invariant violated: /, "", sig); sig = substr(sig, 1, 100) }
        next
    }
    !started { next }
    # the memory a bad access hit: whose code allocated it (first frame past the allocator)
    /is located|allocated by thread|freed by thread|previously allocated/ { owner = 1; checked = 0; next }
    /^ *#[0-9]+ 0x/ && owner {
        if (!checked && !skip($0)) { checked = 1; if ($0 ~ /\/(src|quantizers|cli|fuzz)\/[^ ]*\.c/) lbqowned = 1 }
        next
    }
    /^ *#[0-9]+ 0x/ {
        if (!site && !skip($0)) site = $0
        if (match($0, / in H5[A-Za-z0-9_]+/) && nh < 3) { fn = substr($0, RSTART + 4, RLENGTH - 4); if (fn !~ /^H5(MM|FL)_/) h5[++nh] = fn }
        if (!lbqsite && $0 ~ /\/(src|quantizers|cli|fuzz)\/[^ ]*\.c/) { lbqsite = $0 }
        next
    }
    END {
        if (!started) { print "lbq unknown no-report"; exit }
        cls = "lbq"
        if (!lbqmark && site ~ /libhdf5/ && !lbqowned) cls = "hdf5"
        if (!lbqmark && kind == "oom" && site == "" ) cls = "lbq"
        if (sig == "") {
            if (cls == "hdf5") { sig = h5[1]; for (i = 2; i <= nh; i++) sig = sig "<" h5[i] }
            else { s = (lbqsite != "" ? lbqsite : site); sub(/^ *#[0-9]+ 0x[0-9a-f]+ in /, "", s); sub(/ \(BuildId.*/, "", s); sig = s }
        }
        if (sig == "") sig = "?"
        gsub(/ /, "_", sig)
        print cls, kind, sig
    }' "$1"
}

declare -A R_TIME R_EXEC R_CORP R_LBQ R_HANG R_OOM R_LEAK R_H5 R_H5SIG
FAILED=0
pid=
# the fuzzer runs in the background (so its pid names its scratch files), where it ignores SIGINT:
# pass an interrupt on
trap '[ -n "$pid" ] && { kill -TERM "$pid" 2>/dev/null; wait "$pid"; rm -f /dev/shm/lbq-fuzz-*-"$pid".* "${TMPDIR:-/tmp}"/lbq-fuzz-*-"$pid".*; }
      echo "fuzz/run.sh: interrupted"; exit 130' INT TERM
for h in $HARNESSES; do
    BIN="$OUT/$h"; CORPUS="$OUT/corpus/$h"; ART="$OUT/artifacts/$h"
    mkdir -p "$CORPUS" "$ART/hdf5"
    rm -f "$ART"/crash-* "$ART"/leak-* "$ART"/timeout-* "$ART"/oom-* "$ART"/slow-unit-* "$ART"/*.log
    cp -n fuzz/corpus/"$h"/* "$CORPUS"/ 2>/dev/null
    for r in tests/regress/"$h"/*; do case $r in *.expect|*.md) ;; *) [ -f "$r" ] && cp -n "$r" "$CORPUS"/ ;; esac; done
    case $h in
        fuzz-spec) OPTS=(-max_len=1024 -dict=fuzz/fuzz-spec.dict) ;;
        fuzz-h5)   cp -n tests/data/*.h5 "$CORPUS"/ 2>/dev/null
                   OPTS=(-max_len=65536 -dict=fuzz/fuzz-h5.dict) ;;
        fuzz-json) OPTS=(-max_len=65536 -dict=fuzz/fuzz-json.dict) ;;
    esac
    echo "fuzz/run.sh: $h for ${SECS}s (corpus $CORPUS, artifacts $ART)"
    exec_total=0; lbq=0; hang=0; oom=0; leak=0; h5=0; h5sigs=""; runs=0
    start=$SECONDS
    while :; do
        left=$(( SECS - (SECONDS - start) ))
        [ "$left" -ge 1 ] || break
        runs=$((runs + 1))
        log="$ART/run-$runs.log"
        # shellcheck disable=SC2086
        "$BIN" "$CORPUS" "${OPTS[@]}" -max_total_time="$left" -timeout="$TIMEOUT" -rss_limit_mb=2048 \
            -artifact_prefix="$ART/" -print_final_stats=1 ${FUZZ_ARGS:-} > "$log" 2>&1 &
        pid=$!
        wait "$pid"
        rc=$?
        # the harness's scratch files (fuzz-common.h: <dir>/lbq-fuzz-<tag>-<pid><ext>), left by a crash
        rm -f /dev/shm/lbq-fuzz-*-"$pid".* "${TMPDIR:-/tmp}"/lbq-fuzz-*-"$pid".*
        n=$(awk '/^stat::number_of_executed_units:/ { print $2 }' "$log" | tail -1)
        [ -n "$n" ] || n=$(grep -o '^#[0-9][0-9]*' "$log" | tail -1 | tr -d '#')
        exec_total=$(( exec_total + ${n:-0} ))
        [ "$rc" -eq 0 ] && break
        unit=$(sed -n "s/.*Test unit written to \(.*\)$/\1/p" "$log" | tail -1)
        read -r cls kind sig < <(classify "$log")
        if [ "$kind" = oom ] && [ -n "$unit" ] && [ -f "$unit" ]; then
            # an RSS overrun has no faulting frame: replay and name the first allocation above 256 MiB
            ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=0 "$BIN" -malloc_limit_mb=256 -rss_limit_mb=8192 "$unit" > "$log.malloc" 2>&1
            if grep -q 'out-of-memory (malloc' "$log.malloc"; then read -r cls kind sig < <(classify "$log.malloc"); fi
        fi
        if [ "$cls" = hdf5 ]; then
            h5=$((h5 + 1))
            case " $h5sigs " in *" $sig "*) ;; *) h5sigs="$h5sigs $sig" ;; esac
            if [ -n "$unit" ] && [ -f "$unit" ]; then
                mv "$unit" "$ART/hdf5/"; cp "$log" "$ART/hdf5/$(basename "$unit").log"
                # an input of the working corpus (named by its SHA-1, like the unit) that crashes
                # libhdf5 now, e.g. after a change in what lbq asks libhdf5, would crash every restart
                u=$(basename "$unit"); rm -f "$CORPUS/${u#*-}"
            fi
            echo "  libhdf5-internal $kind ($sig): $(basename "${unit:-?}") -> $ART/hdf5/ ; resuming"
            [ "${FUZZ_STRICT_HDF5:-0}" = 1 ] && FAILED=1
            [ "$runs" -ge 500 ] && { echo "  too many restarts; stopping $h"; break; }
            continue
        fi
        case $kind in hang) hang=$((hang + 1)) ;; oom) oom=$((oom + 1)) ;; leak) leak=$((leak + 1)) ;; *) lbq=$((lbq + 1)) ;; esac
        FAILED=1
        echo "  FINDING in lbq: $kind ($sig)"
        echo "    reproducer: ${unit:-(none written; see $log)}"
        echo "    replay:     $BIN ${unit:-<file>}      report: $log"
        break
    done
    elapsed=$(( SECONDS - start ))
    R_TIME[$h]=$elapsed; R_EXEC[$h]=$exec_total
    R_CORP[$h]=$(find "$CORPUS" -type f | wc -l)
    R_LBQ[$h]=$lbq; R_HANG[$h]=$hang; R_OOM[$h]=$oom; R_LEAK[$h]=$leak; R_H5[$h]=$h5
    R_H5SIG[$h]=$(echo $h5sigs | wc -w)
    if [ -n "$h5sigs" ]; then
        echo "  libhdf5-internal crash signatures (reproducers and reports in $ART/hdf5/):"
        for s in $h5sigs; do echo "    $s"; done
    fi
done

echo
printf '%-10s %7s %11s %8s %7s %8s %6s %5s %5s %13s\n' harness time executions exec/s corpus crashes hangs ooms leaks hdf5-internal
for h in $HARNESSES; do
    t=${R_TIME[$h]}; e=${R_EXEC[$h]}
    printf '%-10s %6ss %11s %8s %7s %8s %6s %5s %5s %13s\n' "$h" "$t" "$e" $(( t > 0 ? e / t : e )) "${R_CORP[$h]}" \
        "${R_LBQ[$h]}" "${R_HANG[$h]}" "${R_OOM[$h]}" "${R_LEAK[$h]}" "${R_H5[$h]} (${R_H5SIG[$h]} sig)"
done
if [ "$FAILED" -ne 0 ]; then
    echo "fuzz/run.sh: FAILED: findings above (reproducers in $OUT/artifacts/)"
    exit 1
fi
echo "fuzz/run.sh: OK: no crash, hang, OOM or leak in lbq"
exit 0
