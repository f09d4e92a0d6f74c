#!/usr/bin/env bash
# test-golden.sh - golden CLI tests in the zstd style: for every usage error and bad input of
# docs/cli.md, tests/cli/golden/NAME.cmd holds the arguments (one line, shell-quoted, run as
# `lbq ARGS` with stdin from /dev/null), NAME.stderr the exact stderr and NAME.rc the exit code.
# Commands run in a scratch directory that links data/, tests/ and README.md of the sources, with
# OMP_NUM_THREADS=1 and LBQ_PLOTS_DIR unset, so paths in messages are the relative ones of the .cmd.
# Analyze cases say --device cpu: the "no CUDA device" note must not depend on the machine.
# LBQ_GOLDEN_UPDATE=1 rewrites the .stderr and .rc files from the current binary (review the diff).
source "$(dirname "$0")/lib.sh"

GOLD=$LBQ_SRC/tests/cli/golden
W=$T/work                       # lib.sh's scratch directory, removed at exit
mkdir -p "$W"
ln -s "$LBQ_SRC/data" "$W/data"
ln -s "$LBQ_SRC/tests" "$W/tests"
ln -s "$LBQ_SRC/README.md" "$W/README.md"

n=0
for cmd in "$GOLD"/*.cmd; do
    name=$(basename "$cmd" .cmd)
    args=$(head -n 1 "$cmd")
    (cd "$W" && eval "env -u LBQ_PLOTS_DIR OMP_NUM_THREADS=1 \"\$LBQ\" $args" >/dev/null 2>"$W/.stderr" </dev/null; echo $? >"$W/.rc")
    if [ -n "${LBQ_GOLDEN_UPDATE:-}" ]; then
        cp "$W/.stderr" "$GOLD/$name.stderr"; cp "$W/.rc" "$GOLD/$name.rc"
    fi
    check_eq "$name: exit code" "$(cat "$GOLD/$name.rc")" "$(cat "$W/.rc")"
    if cmp -s "$GOLD/$name.stderr" "$W/.stderr"; then pass "$name: stderr"
    else fail "$name: stderr" "lbq $args" "$(diff "$GOLD/$name.stderr" "$W/.stderr" | head -n 6)"; fi
    n=$((n + 1))
    # nothing may be left behind by a rejected command
    extra=$(cd "$W" && ls -A | grep -v -x -e data -e tests -e README.md -e .stderr -e .rc)
    check_eq "$name: no output written" "" "$extra"
done
check_num "golden cases" "$n" ">=" 40
finish
