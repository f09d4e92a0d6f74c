#!/usr/bin/env bash
# compare-outputs.sh - byte-compare the outputs of two lbq binaries on the bundled data.
#
#   scripts/compare-outputs.sh BASE_LBQ NEW_LBQ [WORKDIR]
#
# Commands run inside the output directory with relative output paths, so messages that name an
# output are the same for both.  HDF5 outputs are dumped by scripts/h5-canon.py (/usr/bin/python3
# with h5py: every dataset's dtype, shape and raw bytes, every attribute), since the files carry
# object times.
# Runs the same commands (sweep with figures, analyze --json for several specs and recipes,
# simulate --json, inspect --json, list --json, theory --json, quantize, shampoo --json/--tsv/--plot)
# with both binaries, into WORKDIR/base and WORKDIR/new (default /tmp/lbq-compare), and compares
# every file they wrote plus each command's stdout, stderr and exit code.  The wall-clock fields
# (results.json "timing", analyze/simulate "seconds") are removed before comparing; PNG and PDF
# files are left out (gnuplot embeds dates); HDF5 outputs through scripts/h5-canon.py.  Exit 0 when
# everything is identical.  Used for refactorings that must not change behaviour (issue 15).
set -u
BASE=$1 NEW=$2 WORK=${3:-/tmp/lbq-compare}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
D=$ROOT/data
# strip wall-clock fields; PNG and PDF files are dropped
strip_times() {
    find "$1" -type f \( -name '*.json' -o -name '*.stdout' -o -name '*.stderr' \) | while read -r f; do
        sed -i -E 's/"seconds":(\s*)[0-9.eE+-]+/"seconds":\1<T>/g; s/[0-9]+\.[0-9]+ ?s\b/<T>s/g; s/in [0-9.]+ seconds/in <T> seconds/g' "$f"
    done
    find "$1" -type f \( -name '*.png' -o -name '*.pdf' \) -delete
}
# REUSE_BASE=1 keeps WORK/base from an earlier run with the same BASE binary
if [ -z "${REUSE_BASE:-}" ] || [ ! -f "$WORK/base.done" ]; then rm -rf "$WORK"; mkdir -p "$WORK/base"; fi
rm -rf "$WORK/new"; mkdir -p "$WORK/new"

run_all() {     # $1 binary, $2 output dir
    local L=$1 O=$2 n=0
    r() {       # r NAME ARGS...: run one command, keep stdout, stderr, rc
        local name=$1; shift
        (cd "$O" && "$L" "$@" >"$name.stdout" 2>"$name.stderr"; echo $? >"$name.rc")
    }
    export OMP_NUM_THREADS=2
    for f in sample-late sample-early; do
        [ -f "$D/$f.h5" ] || continue
        r sweep-$f sweep "$D/$f.h5" -o "sweep-$f" -q
        for q in "--recipe lpmm4" "--recipe bnb8" "--recipe solo42" "--recipe coat" "--recipe torchao4" \
                 "--quant rank1-linear" "--quant block128-dtree:b3" "--quant tensor-linsq:b8" \
                 "--quant-m row-dtree0 --quant-v col-uniform:b2" "--quant-v block64-log:b2:sr --seed 3" \
                 "--quant block32-fp8e5m2" "--quant rank1-linear --params 7e9 --outlier-k 5"; do
            n=$((n + 1))
            # shellcheck disable=SC2086
            r analyze-$f-$n analyze "$D/$f.h5" $q --json "analyze-$f-$n.json" --device cpu
        done
        r inspect-$f inspect "$D/$f.h5" --json
        r inspect-table-$f inspect "$D/$f.h5"
        r quantize-$f-lpmm4 quantize "$D/$f.h5" --recipe lpmm4 -o "q-$f-lpmm4.h5" -q
        r quantize-$f-coat quantize "$D/$f.h5" --recipe coat -o "q-$f-coat.h5" -q
        r quantize-$f-rc quantize "$D/$f.h5" --quant-m row-dtree --quant-v col-linear -o "q-$f-rc.h5" -q
        r quantize-$f-r1 quantize "$D/$f.h5" --quant tensor-dtree:b8 -o "q-$f-r1.h5" -q
        r simulate-$f simulate "$D/$f.h5" --recipe lpmm4 --json "simulate-$f.json"
        r simulate-mom-$f simulate "$D/$f.h5" --source moments --steps 5 --quant block128-dtree --json "simulate-mom-$f.json"
    done
    r simulate-syn simulate --source synthetic --quant-v block128-log:b2:sr --json "simulate-syn.json"
    r list list --json
    r list-table list
    r theory theory --json "theory.json"
    r shampoo-a2 shampoo --synthetic a2 --order 96 --json "shampoo-a2.json" --tsv "shampoo-a2.tsv" --plot "shampoo-plot" -q
    r shampoo-grads shampoo "$D/sample-late.h5" --from-grads blocks.1.attn.proj.weight --json "shampoo-grads.json" -q
    r sweep-small sweep "$D/sample-early.h5" -o "sweep-small" --map dtree,log,fp8e4m3,uniform --norm block,rank1,tensor,row,col --bits 2,4,8 --block 64,128 -q
    r plot plot "sweep-small/results.json" -o "replot"
    # --resume: configurations carried over from a previous results.json, then more evaluated; --checkpoint
    r sweep-resume1 sweep "$D/sample-early.h5" -o "sweep-resume" --map dtree,linear --bits 2,4 --block 64 --no-plot --no-swamp -q
    r sweep-resume2 sweep "$D/sample-early.h5" -o "sweep-resume" --map dtree,linear --bits 2,4,8 --block 64 --norm block,rank1,tensor --no-plot --resume --checkpoint 3 -q
    for h in "$O"/*.h5; do [ -f "$h" ] && /usr/bin/python3 "$ROOT/scripts/h5-canon.py" "$h" >"$h.dump" 2>&1 && rm -f "$h"; done
}

[ -f "$WORK/base.done" ] || { run_all "$BASE" "$WORK/base"; strip_times "$WORK/base"; touch "$WORK/base.done"; }
run_all "$NEW" "$WORK/new"; strip_times "$WORK/new"


nb=$(cd "$WORK/base" && find . -type f | sort | tee "$WORK/base.list" | wc -l)
if ! (cd "$WORK/new" && find . -type f | sort) | cmp -s - "$WORK/base.list"; then
    echo "DIFFERENT FILE SETS:"; diff <(cd "$WORK/base" && find . -type f | sort) <(cd "$WORK/new" && find . -type f | sort)
fi
bad=0
while read -r f; do
    if ! cmp -s "$WORK/base/$f" "$WORK/new/$f"; then echo "DIFFERS: $f"; bad=$((bad + 1)); fi
done <"$WORK/base.list"
echo "compare-outputs: $nb files compared, $bad differ (base $BASE, new $NEW)"
[ "$bad" -eq 0 ]
