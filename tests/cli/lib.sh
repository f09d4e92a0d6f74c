# lib.sh - shared helpers for the lbq CLI tests (tests/cli/test-*.sh).  Source it; do not run it.
#
# ctest sets LBQ (the lbq binary), LBQ_SRC (source dir) and LBQ_BUILD (build dir).  Run by hand:
#     LBQ=build/lbq bash tests/cli/test-help.sh
# (without LBQ, $LBQ_BUILD/lbq, then <src>/build/lbq is used).
#
# Every test script: source lib.sh, call checks, end with `finish`, which prints
# "N passed, N failed" and exits 1 on any failure (0 otherwise).  `skip_all MSG` exits 77.
#
# Conventions: `run ARGS...` runs lbq with stdout in $OUT, stderr in $ERR, exit code in $RC.
# JSON is read with `json_flat FILE` (a pure-awk reader for the one-key-per-line layout that
# cJSON_Print produces, so no python is needed); `python3 -m json.tool` validates when present.

set -u

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${LBQ_SRC:=$(cd "$LIB_DIR/../.." && pwd)}"
if [ -z "${LBQ:-}" ]; then
    if [ -n "${LBQ_BUILD:-}" ] && [ -x "$LBQ_BUILD/lbq" ]; then LBQ=$LBQ_BUILD/lbq; else LBQ=$LBQ_SRC/build/lbq; fi
fi
FIXTURES=$LBQ_SRC/tests/data
SAMPLE_EARLY=$LBQ_SRC/data/sample-early.h5
SAMPLE_LATE=$LBQ_SRC/data/sample-late.h5
export LC_ALL=C
# OpenMP threads sleep instead of spinning while waiting: results are the same, and the suite stays
# fast on a loaded machine (ctest -j, concurrent builds).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

N_PASS=0
N_FAIL=0
N_SKIP=0
TEST_NAME=$(basename "$0" .sh)

# A private scratch directory, removed on exit (permissions restored first, in case a test
# chmod-ed something).
T=$(mktemp -d "${TMPDIR:-/tmp}/lbq-$TEST_NAME.XXXXXX") || { echo "mktemp failed"; exit 1; }
_lib_cleanup() { chmod -R u+rwx "$T" 2>/dev/null; rm -rf "$T"; }
trap _lib_cleanup EXIT
trap 'exit 130' INT TERM
OUT=$T/.stdout
ERR=$T/.stderr
RC=0

if [ ! -x "$LBQ" ]; then
    echo "lbq binary not found or not executable: $LBQ (set LBQ=...)"
    exit 1
fi

HAVE_PY=0
if command -v python3 >/dev/null 2>&1 && python3 -c 'import json' >/dev/null 2>&1; then HAVE_PY=1; fi

pass() { N_PASS=$((N_PASS + 1)); [ -n "${VERBOSE:-}" ] && echo "ok   - $1"; return 0; }
fail() {
    N_FAIL=$((N_FAIL + 1))
    echo "FAIL - $1"
    shift
    local l
    for l in "$@"; do printf '%s\n' "$l" | sed 's/^/       /'; done
    return 1
}
skip() { N_SKIP=$((N_SKIP + 1)); echo "skip - $1: ${2:-}"; }
note() { echo "note - $*"; }

# show what the last run printed (for failure messages)
last_run() {
    printf 'command: %s\n' "$LAST_CMD"
    printf 'exit: %s\n' "$RC"
    printf 'stderr: %s\n' "$(head -c 600 "$ERR" | tr '\n' '|')"
    printf 'stdout: %s\n' "$(head -c 300 "$OUT" | tr '\n' '|')"
}

LAST_CMD=""
CRASH_RE='Sanitizer|Segmentation|Aborted|core dumped|runtime error:|HDF5-DIAG|free\(\)|double free|stack smashing'
# every run: a signal death or a sanitizer/libc/HDF5 report is a failure, whatever the test checks
_crash_guard() {
    if [ "$RC" -ge 128 ] || grep -Eq "$CRASH_RE" "$ERR"; then
        fail "no crash: $LAST_CMD" "$(last_run)"
    fi
    return 0
}
# run ARGS... : lbq ARGS with stdout -> $OUT, stderr -> $ERR, status -> $RC
run() {
    LAST_CMD="lbq $*"
    "$LBQ" "$@" >"$OUT" 2>"$ERR" </dev/null
    RC=$?
    _crash_guard
    return 0
}
# run_env VAR=VAL... -- ARGS...
run_env() {
    local envs=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do envs+=("$1"); shift; done
    shift
    LAST_CMD="${envs[*]} lbq $*"
    env "${envs[@]}" "$LBQ" "$@" >"$OUT" 2>"$ERR" </dev/null
    RC=$?
    _crash_guard
    return 0
}

check() {   # check NAME CONDITION-COMMAND... : passes when the command succeeds
    local name=$1; shift
    if "$@"; then pass "$name"; else fail "$name" "condition failed: $*"; fi
}
check_eq() {    # check_eq NAME EXPECTED ACTUAL
    if [ "$2" == "$3" ]; then pass "$1"; else fail "$1" "expected: $2" "actual:   $3"; fi
}
check_rc() {    # check_rc NAME EXPECTED  (against the last run)
    if [ "$RC" == "$2" ]; then pass "$1"; else fail "$1" "expected exit $2, got $RC" "$(last_run)"; fi
}
check_grep() {  # check_grep NAME EXTENDED-REGEX FILE
    if grep -Eq -- "$2" "$3"; then pass "$1"; else fail "$1" "no line matches /$2/ in $(basename "$3")" "$(head -c 600 "$3" | tr '\n' '|')"; fi
}
check_no_grep() {
    if ! grep -Eq -- "$2" "$3"; then pass "$1"; else fail "$1" "unexpected match /$2/:" "$(grep -E -- "$2" "$3" | head -3)"; fi
}
check_empty() { # check_empty NAME FILE
    if [ ! -s "$2" ]; then pass "$1"; else fail "$1" "expected empty $(basename "$2"), got:" "$(head -c 400 "$2" | tr '\n' '|')"; fi
}
# numeric comparison with awk: check_num NAME ACTUAL OP EXPECTED   (OP: == != > >= < <=)
check_num() {
    local name=$1 a=$2 op=$3 b=$4
    if [ -z "$a" ] || [ "$a" == "null" ]; then fail "$name" "no numeric value (got '$a'), wanted $op $b"; return 1; fi
    if awk -v a="$a" -v b="$b" "BEGIN { exit !((a + 0) $op (b + 0)) }"; then pass "$name"; else fail "$name" "expected $a $op $b"; fi
}
# |a - b| <= tol * max(1, |b|)
check_close() {
    local name=$1 a=$2 b=$3 tol=${4:-1e-9}
    if [ -z "$a" ] || [ "$a" == "null" ]; then fail "$name" "no numeric value (got '$a'), wanted ~ $b"; return 1; fi
    if awk -v a="$a" -v b="$b" -v t="$tol" 'BEGIN { d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b; if (m < 1) m = 1; exit !(d <= t * m) }'; then
        pass "$name"; else fail "$name" "expected $a ~= $b (rel tol $tol)"; fi
}

# The error contract of a failing run: exit EXPECTED, exactly one stderr line starting with
# "lbq", nothing that looks like a crash, nothing on stdout beyond what a table may have
# printed before the error (not checked).
check_error_contract() {    # NAME EXPECTED_RC
    local name=$1 want=$2 nl
    check_no_crash "$name: no crash"
    if [ "$RC" == "$want" ]; then pass "$name: exit $want"; else fail "$name: exit $want" "got exit $RC" "$(last_run)"; fi
    nl=$(wc -l <"$ERR")
    if [ "$nl" -eq 1 ] && head -n 1 "$ERR" | grep -q '^lbq'; then pass "$name: one stderr line"
    else fail "$name: one stderr line" "expected exactly one line starting with 'lbq', got $nl:" "$(head -c 600 "$ERR" | tr '\n' '|')"; fi
}
check_no_crash() {
    if [ "$RC" -lt 128 ] && ! grep -Eq "$CRASH_RE" "$ERR"; then
        pass "$1"
    else
        fail "$1" "$(last_run)"
    fi
}

# ---- JSON --------------------------------------------------------------------------------------
# json_flat FILE: print "path<TAB>value" for every scalar or inline array in a cJSON_Print-formatted
# document (objects one key per line; arrays of objects as "[{ ... }, { ... }]"; arrays of scalars
# inline).  Paths join keys with '.', array elements by index: params.0.name, totals.v.rel_l2.
# Strings keep their quotes.
json_flat() {
    awk '
    function path(k,   p, i) { p = ""; for (i = 1; i <= sp; i++) p = p st[i] "."; return p k }
    BEGIN { sp = 0 }
    {
        line = $0; sub(/^[ \t]+/, "", line); sub(/[ \t\r]+$/, "", line)
        if (line == "{" && sp == 0 && !started) { started = 1; next }
        if (match(line, /^"([^"\\]|\\.)*":/)) {
            key = substr(line, 2, RLENGTH - 3)
            val = substr(line, RLENGTH + 1); sub(/^[ \t]+/, "", val)
            if (val == "{") { st[++sp] = key; next }
            if (val == "[{") { st[++sp] = key; st[++sp] = 0; next }
            sub(/,$/, "", val)
            print path(key) "\t" val
            next
        }
        if (line == "}, {") { st[sp] = st[sp] + 1; next }
        if (line ~ /^}\],?$/) { sp -= 2; next }
        if (line ~ /^},?$/) { if (sp > 0) sp--; next }
    }' "$1"
}
# json_get FILE PATH : the value at PATH (strings without quotes), empty if absent
json_get() {
    json_flat "$1" | awk -F '\t' -v p="$2" '$1 == p { v = $2; sub(/^"/, "", v); sub(/"$/, "", v); print v; exit }'
}
# json_count FILE ARRAYPATH : number of objects in an array of objects (via their first key)
json_count() {
    json_flat "$1" | awk -F '\t' -v p="$2." 'index($1, p) == 1 { r = substr($1, length(p) + 1); split(r, a, "."); if (a[1] ~ /^[0-9]+$/ && a[1] + 1 > n) n = a[1] + 1 } END { print n + 0 }'
}
# json_valid NAME FILE : python3 -m json.tool when available (else a skip)
json_valid() {
    if [ "$HAVE_PY" = 1 ]; then
        if python3 -m json.tool "$2" >/dev/null 2>"$T/.jsonerr"; then pass "$1"; else fail "$1" "$(head -c 300 "$T/.jsonerr")"; fi
    else
        skip "$1" "python3 not available, JSON not validated"
    fi
}

# no leftovers of an atomic write: no FILE.tmp-* next to FILE
check_no_tmp() {    # NAME DIR
    local left
    left=$(find "$2" -name '*.tmp-*' 2>/dev/null | head -3)
    if [ -z "$left" ]; then pass "$1"; else fail "$1" "temporary files left: $left"; fi
}

skip_all() { echo "skipped: $*"; echo "0 passed, 0 failed"; exit 77; }

finish() {
    [ "$N_SKIP" -gt 0 ] && echo "($N_SKIP checks skipped)"
    echo "$N_PASS passed, $N_FAIL failed"
    [ "$N_FAIL" -eq 0 ] && exit 0
    exit 1
}
