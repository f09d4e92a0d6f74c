#!/usr/bin/env bash
# test-bench-peers.sh - bench/peers/bench-peers.py without the peers' checkouts (bench/README.md):
# its --help names the system interpreter and the peer options; a missing checkout, a checkout
# without the peer's file, no checkout at all, a missing lbq binary and a bad size each give one
# stderr line naming the directory/file/option and exit 2, before any work (torch is not imported).
# Needs /usr/bin/python3 only (no torch, no network, no peer code); skipped (77) without it.
source "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
SCRIPT=$LBQ_SRC/bench/peers/bench-peers.py
[ -x "$PY" ] || skip_all "$PY not found (the script is run with the system interpreter)"
[ -f "$SCRIPT" ] || { fail "script present" "$SCRIPT not found"; finish; }

# run_py ARGS... : the script with stdout -> $OUT, stderr -> $ERR, status -> $RC
run_py() {
    LAST_CMD="bench-peers.py $*"
    "$PY" "$SCRIPT" "$@" >"$OUT" 2>"$ERR" </dev/null
    RC=$?
    _crash_guard
    return 0
}
# one_error NAME REGEX : exit 2, nothing on stdout, exactly one stderr line matching REGEX
one_error() {
    check_rc "$1: exit 2" 2
    check_empty "$1: nothing on stdout" "$OUT"
    local nl
    nl=$(wc -l <"$ERR")
    if [ "$nl" -eq 1 ] && grep -Eq -- "$2" "$ERR"; then pass "$1: one stderr line"
    else fail "$1: one stderr line" "expected one line matching /$2/, got $nl:" "$(head -c 600 "$ERR" | tr '\n' '|')"; fi
}

run_py --help
check_rc "--help: exit 0" 0
check_grep "--help: names the system interpreter" '/usr/bin/python3' "$OUT"
check_grep "--help: --solo DIR" '--solo DIR' "$OUT"
check_grep "--help: --coat DIR" '--coat DIR' "$OUT"
check_grep "--help: --lpmm DIR" '--lpmm DIR' "$OUT"
check_grep "--help: --bnb DIR" '--bnb DIR' "$OUT"
check_grep "--help: the 20x target" '20x' "$OUT"

run_py
one_error "no checkout" '^bench-peers: error: no peer checkout given'

run_py --solo "$T/nope"
one_error "missing --solo directory" "^bench-peers: error: --solo: directory '$T/nope' not found \\(a checkout of MTandHJ/SOLO\\)"

mkdir -p "$T/empty"
run_py --lpmm "$T/empty"
one_error "--lpmm without lpmm/functional.py" "^bench-peers: error: --lpmm: '$T/empty' has no lpmm/functional.py"

run_py --coat "$T/empty"
one_error "--coat without COAT's files" "^bench-peers: error: --coat: '$T/empty' has no coat/activation/fake_quantization/quantize_function.py"

# a checkout that passes the file check, but lbq is missing: still refused before any work
mkdir -p "$T/fake/lpmm"
: >"$T/fake/lpmm/functional.py"
run_py --lpmm "$T/fake" --lbq "$T/no-lbq"
one_error "missing lbq binary" "^bench-peers: error: --lbq: '$T/no-lbq' is not an executable"

run_py --lpmm "$T/fake" --size 12x
one_error "bad --size" "^bench-peers: error: --size: '12x' is not a size"

run_py --lpmm "$T/fake" --reps 0
one_error "bad --reps" "^bench-peers: error: --reps: 0 is not between 1 and 100"

finish
