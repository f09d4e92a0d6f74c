#!/usr/bin/env bash
# test-badinput.sh - the bad-input catalogue.  For inspect, analyze, quantize, simulate and sweep:
# bad files (missing, unreadable, directory, empty, text, truncated HDF5, integer/string data,
# m/v shape mismatch, missing exp_avg_sq, zero-size, absurd shapes, declared but unwritten data:
# sparse/unfinished chunks, a never-written contiguous dataset), bad options (--bits, --block,
# unknown map/normalization/recipe, --mem-limit) and bad outputs (missing directory, read-only
# directory, a full device, a directory).  Each must give: the documented exit code (cli/cli.h:
# 2 usage, 3 input, 4 output, 5 data), exactly one stderr line starting with "lbq" (-q silences
# notices), no crash, and no output or temporary file left behind.  Outputs that resolve to the
# input (the same path, ./, a symlink, a hard link) are refused with exit 4 before any work, the
# input intact (issue 16; more output rules in test-outputs.sh).  Plus the non-errors: a 0-d
# scalar next to real parameters is skipped with a notice; NaN/Inf are counted and excluded by
# inspect/analyze/sweep and refused by simulate; compressed data larger than its storage is fine.
#
# Fixtures: tests/data/fx-*.h5 (made by tests/data/make-fixtures.py); empty/text/truncated files
# are made here.
source "$(dirname "$0")/lib.sh"

# Exit codes from cli/cli.h.  Output-side failures (cannot create or write OUT, OUT of the wrong
# kind) must exit LBQ_EXIT_OUTPUT = 4, input-side ones 3.
EXIT_USAGE=2 EXIT_INPUT=3 EXIT_OUTPUT=4 EXIT_DATA=5
CMDS=(inspect analyze quantize simulate sweep)

for f in tiny int string mismatch missing-v zero-size scalar scalar-only nan absurd-dim absurd-numel absurd-rank \
         absurd-sparse unwritten partial gzip-zeros; do
    [ -f "$FIXTURES/fx-$f.h5" ] || { echo "missing fixture $FIXTURES/fx-$f.h5 (run tests/data/make-fixtures.py)"; exit 1; }
done
[ -f "$SAMPLE_EARLY" ] || { echo "missing $SAMPLE_EARLY"; exit 1; }

IN=$T/in
mkdir -p "$IN"
: >"$IN/empty.h5"
printf 'exp_avg,exp_avg_sq\n0.1,0.01\nthis is not an HDF5 file\n' >"$IN/text.h5"
SZ=$(wc -c <"$SAMPLE_EARLY")
head -c $((SZ / 2)) "$SAMPLE_EARLY" >"$IN/truncated.h5"
mkdir "$IN/adir.h5"
cp "$FIXTURES/fx-tiny.h5" "$IN/unreadable.h5"
chmod 000 "$IN/unreadable.h5"
GOOD=$FIXTURES/fx-tiny.h5

# ---- building a command line ---------------------------------------------------------------------
# Per case: QSEL replaces the quantizer selection, EXTRA is appended, SW_* replace sweep's axes,
# OUTP replaces the output path, QFLAG is the quiet flag.
reset_case() { QSEL=(); EXTRA=(); SW_MAP=dtree; SW_NORM=""; SW_BITS=4; SW_BLOCK=128; OUTP=""; QFLAG=-q; }
# build CMD INPUT DIR  -> array A
build() {
    local c=$1 in=$2 d=$3 o
    case $c in
    inspect)  o=${OUTP:-$d/out.json}; A=(inspect $QFLAG "$in" -o "$o") ;;
    analyze)  o=${OUTP:-$d/out.json}; [ ${#QSEL[@]} -gt 0 ] || QSEL=(--quant block128-dtree)
              A=(analyze $QFLAG "$in" "${QSEL[@]}" --json "$o") ;;
    quantize) o=${OUTP:-$d/out.h5}; [ ${#QSEL[@]} -gt 0 ] || QSEL=(--recipe lpmm4)
              A=(quantize $QFLAG "$in" "${QSEL[@]}" -o "$o") ;;
    simulate) o=${OUTP:-$d/out.json}; [ ${#QSEL[@]} -gt 0 ] || QSEL=(--recipe bnb8)
              A=(simulate $QFLAG "$in" "${QSEL[@]}" --json "$o") ;;
    sweep)    o=${OUTP:-$d/out}
              A=(sweep $QFLAG "$in" -o "$o" --map "$SW_MAP" --bits "$SW_BITS" --block "$SW_BLOCK" --no-plot --no-swamp)
              [ -n "$SW_NORM" ] && A+=(--norm "$SW_NORM") ;;
    esac
    A+=(${EXTRA[@]+"${EXTRA[@]}"})
    return 0
}
NCASE=0
newdir() { NCASE=$((NCASE + 1)); D=$T/case$NCASE; mkdir -p "$D"; }

# nothing left in the case directory D but the allowed names; sweep's output directory may exist
# but must hold no file.
check_no_output() {     # NAME [allowed basename...]
    local name=$1; shift
    local left="" p b ok a
    while IFS= read -r p; do
        [ -n "$p" ] || continue
        b=${p#"$D"/}
        ok=0
        for a in "$@"; do [ "$b" == "$a" ] && ok=1; done
        [ "$b" == "out" ] && [ -d "$p" ] && [ -z "$(ls -A "$p")" ] && ok=1
        [ $ok = 1 ] || left="$left $b"
    done < <(find "$D" -mindepth 1 -maxdepth 2 2>/dev/null)
    if [ -z "$left" ]; then pass "$name"; else fail "$name" "left behind in the output directory:$left"; fi
}

# expect_error CMD CASE INPUT WANT_RC [stderr-regex]
expect_error() {
    local c=$1 cs=$2 in=$3 want=$4 re=${5:-}
    newdir
    build "$c" "$in" "$D"
    run "${A[@]}"
    check_error_contract "$c: $cs" "$want"
    [ -n "$re" ] && check_grep "$c: $cs: message /$re/" "$re" "$ERR"
    check_no_output "$c: $cs: no output or temporary file left"
}

# ---- bad input files: exit 3 for every command ---------------------------------------------------
declare -a FILE_CASES=(
    "missing file|$IN/no-such-file.h5|No such file"
    "directory instead of a file|$IN/adir.h5|directory"
    "empty file|$IN/empty.h5|empty"
    "not HDF5 (text)|$IN/text.h5|not an HDF5"
    "truncated HDF5|$IN/truncated.h5|truncated|corrupt"
    "integer dataset|$FIXTURES/fx-int.h5|integer"
    "string dataset|$FIXTURES/fx-string.h5|string"
    "m/v shape mismatch|$FIXTURES/fx-mismatch.h5|shape mismatch"
    "missing exp_avg_sq|$FIXTURES/fx-missing-v.h5|exp_avg_sq"
    "zero-size tensor|$FIXTURES/fx-zero-size.h5|empty|zero"
    "only a 0-d scalar|$FIXTURES/fx-scalar-only.h5|no parameters"
    "absurd dimension 2^41|$FIXTURES/fx-absurd-dim.h5|absurd"
    "absurd element count 2^44|$FIXTURES/fx-absurd-numel.h5|absurd|large"
    "rank 9|$FIXTURES/fx-absurd-rank.h5|rank"
    "2^40 elements declared, no chunk written (2.7 KB file)|$FIXTURES/fx-absurd-sparse.h5|'w': exp_avg has 0 of its 1048576 chunks written"
    "contiguous 2^32 elements, never written|$FIXTURES/fx-unwritten.h5|'w': exp_avg has no data written"
    "half of the chunks written|$FIXTURES/fx-partial.h5|'w': exp_avg has 4 of its 8 chunks written"
)
for c in "${CMDS[@]}"; do
    for entry in "${FILE_CASES[@]}"; do
        cs=${entry%%|*}; rest=${entry#*|}; file=${rest%%|*}; re=${rest#*|}
        reset_case
        expect_error "$c" "$cs" "$file" $EXIT_INPUT "$re"
    done
    # every file error names the file
    reset_case
    newdir; build "$c" "$FIXTURES/fx-int.h5" "$D"; run "${A[@]}"
    check_grep "$c: error message names the file and tensor" "fx-int\.h5.*'w'" "$ERR"
    # unreadable file: root reads through chmod 000
    reset_case
    if [ -r "$IN/unreadable.h5" ]; then
        skip "$c: unreadable file (chmod 000)" "running as root, chmod 000 does not block reads"
    else
        expect_error "$c" "unreadable file (chmod 000)" "$IN/unreadable.h5" $EXIT_INPUT "ermission"
    fi
done

# ---- compressed data larger than its storage is not "unwritten": 256 KiB of zeros in ~1 KB -------
for c in "${CMDS[@]}"; do
    reset_case; newdir
    [ "$c" == simulate ] && EXTRA=(--source moments)
    build "$c" "$FIXTURES/fx-gzip-zeros.h5" "$D"
    run "${A[@]}"
    check_rc "$c: gzip-compressed all-zero tensor (data > storage): exit 0" 0
done

# ---- 0-d scalar next to real parameters: skipped with a notice, not an error --------------------
for c in "${CMDS[@]}"; do
    reset_case; QFLAG=""; newdir
    build "$c" "$FIXTURES/fx-scalar.h5" "$D"
    run "${A[@]}"
    check_no_crash "$c: 0-d scalar: no crash"
    check_rc "$c: 0-d scalar beside a real tensor: exit 0" 0
    check_grep "$c: 0-d scalar: a notice names the tensor" "^lbq: .*'s'.*(0-d|scalar)" "$ERR"
    check_no_grep "$c: 0-d scalar: no error line" "error" "$ERR"
    check "$c: 0-d scalar: every stderr line starts with 'lbq: '" awk '!/^lbq: / { exit 1 }' "$ERR"
    reset_case; newdir
    build "$c" "$FIXTURES/fx-scalar.h5" "$D"
    run "${A[@]}"
    check_rc "$c -q: 0-d scalar: exit 0" 0
    check_empty "$c -q: 0-d scalar: the notice is silenced by -q" "$ERR"
done
run inspect -q --json "$FIXTURES/fx-scalar.h5"
cp "$OUT" "$T/scalar.json"
check_eq "inspect: 0-d scalar not listed (1 parameter)" 1 "$(json_count "$T/scalar.json" params)"
check_eq "inspect: the listed parameter is 'w'" w "$(json_get "$T/scalar.json" params.0.name)"
check_grep "inspect --json: the skip is in notes" "scalar" "$T/scalar.json"

# ---- NaN / Inf: fx-nan.h5 'w' [8,16] has m: 1 NaN, 1 -Inf; v: 1 +Inf, 1 NaN, at 4 distinct
# elements; 'b' [32] is clean.  160 elements, 4 non-finite (an element counts when m or v is).
NAN_FILE=$FIXTURES/fx-nan.h5
run inspect -q --json "$NAN_FILE"
check_rc "inspect: NaN/Inf: exit 0" 0
cp "$OUT" "$T/nan-inspect.json"
wi=-1
for i in 0 1; do [ "$(json_get "$T/nan-inspect.json" params.$i.name)" == w ] && wi=$i; done
check_eq "inspect: NaN/Inf: m nan count" 1 "$(json_get "$T/nan-inspect.json" params.$wi.m.nan)"
check_eq "inspect: NaN/Inf: m inf count" 1 "$(json_get "$T/nan-inspect.json" params.$wi.m.inf)"
check_eq "inspect: NaN/Inf: v nan count" 1 "$(json_get "$T/nan-inspect.json" params.$wi.v.nan)"
check_eq "inspect: NaN/Inf: v inf count" 1 "$(json_get "$T/nan-inspect.json" params.$wi.v.inf)"
check "inspect: NaN/Inf: m min is a number" grep -Eq '^-?[0-9]' <(json_get "$T/nan-inspect.json" params.$wi.m.min)

newdir
run analyze "$NAN_FILE" --quant block128-dtree --device cpu --json "$D/a.json"
check_no_crash "analyze: NaN/Inf: no crash"
check_rc "analyze: NaN/Inf: exit 0" 0
check_grep "analyze: NaN/Inf: a warning on stderr names the tensor" "^lbq: .*warning.*'w'.*(NaN|Inf)" "$ERR"
check_grep "analyze: NaN/Inf: the warning counts 4 elements" "'w'.* 4 elements" "$ERR"
check_eq "analyze: NaN/Inf: nonfinite_excluded" 4 "$(json_get "$D/a.json" nonfinite_excluded)"
check_eq "analyze: NaN/Inf: totals.m.nonfinite" 4 "$(json_get "$D/a.json" totals.m.nonfinite)"
check_eq "analyze: NaN/Inf: totals.m.n = 160 - 4" 156 "$(json_get "$D/a.json" totals.m.n)"
check_eq "analyze: NaN/Inf: totals.update.n = 160 - 4" 156 "$(json_get "$D/a.json" totals.update.n)"
for k in m.rel_l2 v.rel_l2 update.rel_l2 update.cosine; do
    check "analyze: NaN/Inf: totals.$k is a finite number" grep -Eq '^-?[0-9]' <(json_get "$D/a.json" totals.$k)
done
run analyze -q "$NAN_FILE" --quant block128-dtree --device cpu
check_rc "analyze -q: NaN/Inf: exit 0" 0

reset_case; QSEL=(--quant block128-dtree); newdir
build simulate "$NAN_FILE" "$D"; run "${A[@]}"
check_error_contract "simulate: NaN/Inf in m or v" $EXIT_DATA
check_grep "simulate: NaN/Inf: the message names the tensor and NaN/Inf" "'w'.*(NaN|Inf)" "$ERR"
check_no_output "simulate: NaN/Inf: no output left"
reset_case; newdir
build simulate "$NAN_FILE" "$D"; run "${A[@]}"
check_error_contract "simulate --recipe bnb8: NaN/Inf in m or v" $EXIT_DATA

reset_case; newdir
build sweep "$NAN_FILE" "$D"; run "${A[@]}"
check_rc "sweep: NaN/Inf: exit 0 (excluded, as in analyze)" 0
check_eq "sweep: NaN/Inf: configs.0.totals.m.nonfinite" 4 "$(json_get "$D/out/results.json" configs.0.totals.m.nonfinite)"
check_eq "sweep: NaN/Inf: configs.0.totals.m.n = 160 - 4" 156 "$(json_get "$D/out/results.json" configs.0.totals.m.n)"

# quantize must not silently turn NaN/Inf into finite dequantized values: either refuse (one
# line, non-zero exit) or write and warn on stderr as analyze does.
newdir
run quantize "$NAN_FILE" --quant block128-dtree -o "$D/q.h5"
check_no_crash "quantize: NaN/Inf: no crash"
if [ "$RC" == 0 ]; then
    check_grep "quantize: NaN/Inf input: exit 0 only with a warning about NaN/Inf on stderr" "^lbq: .*(NaN|Inf|non-?finite)" "$ERR"
else
    check_error_contract "quantize: NaN/Inf input refused" $EXIT_DATA
    check_no_output "quantize: NaN/Inf: no output left"
fi

# ---- bad options: exit 2 (usage) ------------------------------------------------------------------
QCMDS=(analyze quantize simulate sweep)
for c in "${QCMDS[@]}"; do
    for b in 0 9 -1; do
        reset_case
        if [ "$c" == sweep ]; then SW_BITS=$b; else EXTRA=(--bits "$b"); fi
        expect_error "$c" "--bits $b" "$GOOD" $EXIT_USAGE "bits"
    done
    reset_case
    if [ "$c" == sweep ]; then SW_BLOCK=0; else EXTRA=(--block 0); fi
    expect_error "$c" "--block 0" "$GOOD" $EXIT_USAGE "block"

    reset_case
    if [ "$c" == sweep ]; then SW_MAP=dtre; else QSEL=(--quant block128-dtre); fi
    expect_error "$c" "unknown map 'dtre'" "$GOOD" $EXIT_USAGE "did you mean 'dtree'"

    reset_case
    if [ "$c" == sweep ]; then SW_NORM=blokk; else QSEL=(--quant blokk128-dtree); fi
    expect_error "$c" "unknown normalization" "$GOOD" $EXIT_USAGE "normalization 'blokk"

    reset_case
    if [ "$c" == sweep ]; then
        skip "sweep: unknown recipe" "sweep has no --recipe option"
    else
        QSEL=(--recipe lpmm5)
        expect_error "$c" "unknown recipe 'lpmm5'" "$GOOD" $EXIT_USAGE "recipe 'lpmm5'.*did you mean 'lpmm4'"
    fi
done
for c in inspect analyze quantize sweep; do
    for g in lots 12Q -5M 0; do
        reset_case; EXTRA=(--mem-limit "$g")
        expect_error "$c" "--mem-limit $g" "$GOOD" $EXIT_USAGE "mem-limit"
    done
done
skip "simulate: --mem-limit garbage" "simulate has no --mem-limit option"

# ---- bad outputs: exit 4 (output) ------------------------------------------------------------------
# A full device: a private node (c 1 7, the same device as /dev/full) when we may mknod, so that a
# program that renames over its output cannot destroy the system's /dev/full; else /dev/full.
FULL_PRIV=0
if mknod -m 666 "$T/probe-full" c 1 7 2>/dev/null && [ -c "$T/probe-full" ]; then FULL_PRIV=1; fi
rm -f "$T/probe-full"
DEVFULL_BEFORE=0; [ -c /dev/full ] && DEVFULL_BEFORE=1

for c in "${CMDS[@]}"; do
    # output in a missing directory
    reset_case; newdir
    # (sweep -o DIR creates missing parents like mkdir -p, so for it the parent is a regular file)
    case $c in sweep) : > "$D/afile"; OUTP=$D/afile/sub/out ;; quantize) OUTP=$D/nodir/out.h5 ;; *) OUTP=$D/nodir/out.json ;; esac
    build "$c" "$GOOD" "$D"; run "${A[@]}"
    check_error_contract "$c: output in a missing directory" $EXIT_OUTPUT
    check_no_output "$c: output in a missing directory: nothing left" afile

    # output in a read-only directory
    reset_case; newdir
    mkdir "$D/ro"; chmod 555 "$D/ro"
    if touch "$D/ro/.probe" 2>/dev/null; then
        rm -f "$D/ro/.probe"
        skip "$c: output in a read-only directory" "running as root, permissions do not block writes"
    else
        OUTP=$D/ro/out
        build "$c" "$GOOD" "$D"; run "${A[@]}"
        check_error_contract "$c: output in a read-only directory" $EXIT_OUTPUT
        check_no_output "$c: output in a read-only directory: nothing left" ro
    fi
    chmod 755 "$D/ro"

    # output to a full device
    reset_case; newdir
    if [ $FULL_PRIV = 1 ]; then mknod -m 666 "$D/full" c 1 7; FULL=$D/full; else FULL=/dev/full; fi
    OUTP=$FULL
    build "$c" "$GOOD" "$D"; run "${A[@]}"
    check_error_contract "$c: output to a full device ($FULL)" $EXIT_OUTPUT
    if [ -c "$FULL" ]; then
        pass "$c: the full device is still a character device"
    else
        fail "$c: the full device is still a character device" "$FULL was replaced: $(ls -l "$FULL" 2>&1)" "$(last_run)"
        if [ "$FULL" == /dev/full ] && [ "$(id -u)" == 0 ]; then rm -f /dev/full; mknod -m 666 /dev/full c 1 7; note "restored /dev/full"; fi
    fi
    if [ $FULL_PRIV = 1 ]; then
        check_no_output "$c: output to a full device: nothing left" full
    else
        left=$(ls /dev/full.tmp-* 2>/dev/null | head -3)
        if [ -z "$left" ]; then pass "$c: output to /dev/full: no temporary file"; else fail "$c: output to /dev/full: no temporary file" "$left"; fi
    fi

    # output path is an existing directory (for sweep: an existing regular file)
    reset_case; newdir
    if [ "$c" == sweep ]; then echo keep >"$D/afile"; OUTP=$D/afile; else mkdir "$D/adir"; OUTP=$D/adir; fi
    build "$c" "$GOOD" "$D"; run "${A[@]}"
    check_error_contract "$c: output path is a $([ "$c" == sweep ] && echo file || echo directory)" $EXIT_OUTPUT
    check_no_output "$c: output path of the wrong kind: nothing left" afile adir
    [ "$c" == sweep ] && check_eq "sweep: the existing file is untouched" keep "$(cat "$D/afile")"
done
if [ $DEVFULL_BEFORE = 1 ]; then
    check "/dev/full is still a character device" test -c /dev/full
fi

# ---- an output that resolves to the input: exit 4, one line, before any work, the input intact ----
# The same path, through ./, a symlink, a hard link; for every command that reads a moment file
# (sweep's -o DIR and shampoo's --json included) and plot's -o DIR onto its RESULTS.json.
SAME=$T/same; mkdir -p "$SAME"
cp "$GOOD" "$SAME/m.h5"; ln -s m.h5 "$SAME/link.h5"; ln "$SAME/m.h5" "$SAME/hard.h5"
SUM0=$(cksum <"$SAME/m.h5")
for c in "${CMDS[@]}"; do
    case $c in analyze|simulate) opt=--json ;; *) opt=-o ;; esac
    for o in "$SAME/m.h5" "$SAME/./m.h5" "$SAME/link.h5" "$SAME/hard.h5"; do
        reset_case; newdir; OUTP=$o
        build "$c" "$SAME/m.h5" "$D"; run "${A[@]}"
        check_error_contract "$c: output $o is the input" $EXIT_OUTPUT
        check_eq "$c: output $(basename "$o") is the input: the line" \
            "lbq: error: $opt $o: is the input file $SAME/m.h5; lbq never writes over an input" "$(cat "$ERR")"
        check_empty "$c: output $(basename "$o") is the input: refused before any work (no table)" "$OUT"
        check_eq "$c: output $(basename "$o") is the input: the input is intact" "$SUM0" "$(cksum <"$SAME/m.h5")"
    done
done
check_eq "the input directory holds only the input and its links" "hard.h5 link.h5 m.h5" "$(ls "$SAME" | tr '\n' ' ' | sed 's/ $//')"
run shampoo "$SAME/m.h5" --dataset w/exp_avg --json "$SAME/link.h5"
check_error_contract "shampoo: --json is the input" $EXIT_OUTPUT
check_eq "shampoo: --json is the input: the line" "lbq: error: --json $SAME/link.h5: is the input file $SAME/m.h5; lbq never writes over an input" "$(cat "$ERR")"
echo '{}' >"$SAME/r.json"
run plot "$SAME/r.json" -o "$SAME/r.json"
check_error_contract "plot: -o DIR is the input" $EXIT_OUTPUT
check_eq "plot: -o DIR is the input: the line" "lbq: error: -o $SAME/r.json: is the input file $SAME/r.json; lbq never writes over an input" "$(cat "$ERR")"
check_eq "plot: the input is intact" '{}' "$(cat "$SAME/r.json")"
check_eq "after every case, the input is unchanged" "$SUM0" "$(cksum <"$SAME/m.h5")"
( cd "$T" && "$LBQ" quantize -q "$GOOD" --recipe lpmm4 -o - >"$OUT" 2>"$ERR" ); RC=$?; LAST_CMD="lbq quantize GOOD -o -"
check_error_contract "quantize -o - (HDF5 to stdout)" $EXIT_OUTPUT
check_eq "quantize -o -: the line" "lbq: error: -o -: HDF5 cannot be written to stdout; give a file name" "$(cat "$ERR")"
check "quantize -o -: no file named '-'" test ! -e "$T/-"

# ---- output paths are validated before any work: an existing directory given as a file output ----
for c in analyze simulate; do
    reset_case; newdir; mkdir "$D/adir"; OUTP=$D/adir
    build "$c" "$GOOD" "$D"; run "${A[@]}"
    check_error_contract "$c: --json DIR" $EXIT_OUTPUT
    check_eq "$c: --json DIR: the line" "lbq: error: --json $D/adir: is a directory" "$(cat "$ERR")"
    check_empty "$c: --json DIR: refused before any work (no table on stdout)" "$OUT"
done
reset_case; newdir; OUTP=$D/nodir/out.json
build analyze "$GOOD" "$D"; run "${A[@]}"
check_eq "analyze: --json in a missing directory: the line" "lbq: error: --json $D/nodir/out.json: directory $D/nodir: No such file or directory" "$(cat "$ERR")"
check_empty "analyze: --json in a missing directory: refused before any work" "$OUT"
run theory --json "$T"
check_error_contract "theory: --json DIR" $EXIT_OUTPUT
check_empty "theory: --json DIR: refused before any work" "$OUT"

# ---- misleading messages and silently accepted repeats (issue 16, item 14): exact lines, exit 2 -----
msg_case() {    # NAME EXPECTED-LINE ARGS...
    local name=$1 want=$2; shift 2
    run "$@"
    check_error_contract "$name" $EXIT_USAGE
    check_eq "$name: the line" "$want" "$(cat "$ERR")"
    check_empty "$name: nothing on stdout" "$OUT"
}
msg_case "analyze -o (analyze has --json, not -o)" "lbq analyze: unknown option '-o' (see 'lbq analyze --help')" \
    analyze "$GOOD" --quant block128-dtree -o "$T/x.json"
msg_case "analyze --quant twice, different" "lbq analyze: option '--quant' given twice, as 'block128-dtree' and 'block64-dtree' (give it once) (see 'lbq analyze --help')" \
    analyze "$GOOD" --quant block128-dtree --quant=block64-dtree
msg_case "quantize -o twice, different" "lbq quantize: option '--output' given twice, as '$T/a.h5' and '$T/b.h5' (give it once) (see 'lbq quantize --help')" \
    quantize "$GOOD" --recipe lpmm4 -o "$T/a.h5" -o "$T/b.h5"
msg_case "sweep --map twice, different" "lbq sweep: option '--map' given twice, as 'dtree' and 'linear' (give it once) (see 'lbq sweep --help')" \
    sweep "$GOOD" -o "$T/sw-twice" --map dtree --map linear
check "sweep --map twice: no output directory" test ! -e "$T/sw-twice"
run analyze -q "$GOOD" --quant block128-dtree --quant block128-dtree --device cpu
check_rc "analyze --quant twice, the same: accepted" 0
msg_case "theory --beta 0.9999999999 (not '1 out of range')" "lbq theory: --beta: 0.9999999999 out of range (0-0.999999) (see 'lbq theory --help')" \
    theory --beta 0.9999999999
msg_case "analyze --quantile 1e-320 (a number, out of range)" "lbq analyze: --quantile: 1e-320 out of range (1e-09-0.999999999) (see 'lbq analyze --help')" \
    analyze "$GOOD" --quant block128-dtree --quantile 1e-320
msg_case "analyze: block 2^24+1 (not 'of one sweep')" "lbq analyze: block size 16777217 is larger than 2^24 = 16777216, the largest that analyze evaluates (see 'lbq analyze --help')" \
    analyze "$GOOD" --quant block16777217-dtree
msg_case "simulate --betas with too many values (not 'not LO:HI:STEP')" "lbq simulate: --betas: '0:0.99:0.0000001' gives 9900001 values; at most 10001 (a larger STEP) (see 'lbq simulate --help')" \
    simulate --source synthetic --quant-v block128-dtree --betas 0:0.99:0.0000001
for sp in "block128-dtree:b4:b5|:b5|:b4" "block128-dtree:sr:sr|:sr|:sr" "block128-linear:signed:unsigned|:unsigned|:signed" "block128-dtree:p0.9:nearest:sr|:sr|:nearest"; do
    spec=${sp%%|*}; rest=${sp#*|}; second=${rest%%|*}; first=${rest#*|}
    msg_case "analyze --quant $spec (a repeated or contradicting option)" \
        "lbq: error: quantizer '$spec': '$second' repeats or contradicts '$first' (give each option once)" analyze "$GOOD" --quant "$spec"
done
msg_case "analyze --quant block0-dtree (refused, as docs/quantizers.md says)" "lbq: error: quantizer 'block0-dtree': block size must be >= 1 (got 0)" \
    analyze "$GOOD" --quant block0-dtree

# ---- names, links, locks, negative v (issue 16); fixtures made with h5py ---------------------------
PY=/usr/bin/python3
if ! "$PY" -c 'import h5py' 2>/dev/null; then
    skip "names, links, locks, negative v" "$PY has no h5py (apt-get install python3-h5py)"
else
    NM=$T/names; mkdir -p "$NM"
    "$PY" - "$NM" <<'PYEOF'
import sys, h5py, numpy as np
d = sys.argv[1]
def pair(f, g, v=None):
    grp = f.create_group(g)     # g: str, or bytes for a name that is not UTF-8
    grp["exp_avg"] = np.linspace(-1, 1, 256, dtype="f4")
    grp["exp_avg_sq"] = np.linspace(0.1, 1, 256, dtype="f4") if v is None else v
for fn, n in (("long600.h5", 600), ("long1100.h5", 1100)):
    with h5py.File(d + "/" + fn, "w") as f:
        pair(f, "a" * n); pair(f, "b")
with h5py.File(d + "/odd.h5", "w") as f:
    pair(f, b"w\xff\xfe")
    pair(f, "t\tab"); pair(f, "n\nl"); pair(f, "ok")
with h5py.File(d + "/soft.h5", "w") as f:
    pair(f, "w")
    f["alias/exp_avg"] = h5py.SoftLink("/w/exp_avg"); f["alias/exp_avg_sq"] = h5py.SoftLink("/w/exp_avg_sq")
with h5py.File(d + "/bigchunk.h5", "w") as f:     # one 16 MiB gzip chunk per state, a 1 MB file
    m = np.zeros((2048, 2048), "f4"); m[:, :64] = np.linspace(-1e-3, 1e-3, 2048 * 64, dtype="f4").reshape(2048, 64)
    f.create_dataset("w/exp_avg", data=m, chunks=(2048, 2048), compression="gzip")
    f.create_dataset("w/exp_avg_sq", data=m * m, chunks=(2048, 2048), compression="gzip")
with h5py.File(d + "/neg.h5", "w") as f:
    v = np.linspace(0.1, 1, 256, dtype="f4"); v[:3] = -1e-9
    pair(f, "w", v); pair(f, "b")
PYEOF
    [ -f "$NM/neg.h5" ] || fail "h5py fixtures for names/links were not made"
    LONGMSG="tensor '$(printf 'a%.0s' $(seq 80))...'"
    for c in "${CMDS[@]}"; do
        for n in 600 1100; do
            reset_case; newdir
            build "$c" "$NM/long$n.h5" "$D"; run "${A[@]}"
            check_error_contract "$c: a $n-byte parameter name" $EXIT_INPUT
            check_eq "$c: a $n-byte parameter name: the line" \
                "lbq: error: $NM/long$n.h5: $LONGMSG ($n bytes): parameter names longer than 511 bytes are not supported" "$(cat "$ERR")"
        done
    done
    # escaped names: strict UTF-8 JSON, one TSV row per parameter and config
    strict_utf8() { "$PY" -c 'import sys, json; json.loads(open(sys.argv[1], "rb").read().decode("utf-8"))' "$1"; }
    run inspect -q "$NM/odd.h5" -o "$T/odd.json"
    check_rc "inspect: names with \\xff, tab, newline: exit 0" 0
    check "inspect --json: strict UTF-8 JSON with a non-UTF-8 name" strict_utf8 "$T/odd.json"
    check_eq "inspect --json: names escaped (\\xHH, \\t, \\n)" 'n\nl ok t\tab w\xff\xfe' \
        "$("$PY" -c 'import sys, json; print(" ".join(p["name"] for p in json.load(open(sys.argv[1]))["params"]))' "$T/odd.json")"
    run analyze -q "$NM/odd.h5" --quant block128-dtree --device cpu --json "$T/odd-a.json"
    check "analyze --json: strict UTF-8 JSON with a non-UTF-8 name" strict_utf8 "$T/odd-a.json"
    run sweep -q "$NM/odd.h5" -o "$T/odd-sw" --map dtree --bits 4 --block 128 --no-plot --no-swamp
    check_rc "sweep: odd names: exit 0" 0
    check_eq "sweep: results.tsv: every row has the header's fields" "$(head -n 1 "$T/odd-sw/results.tsv" | awk -F '\t' '{ print NF }')" "$(awk -F '\t' '{ print NF }' "$T/odd-sw/results.tsv" | sort -u | tr '\n' ' ' | sed 's/ $//')"
    # one row per configuration: the grid's 2 (block128, rank1) and each published recipe's
    NCONF=$("$PY" -c 'import sys, json; print(len(json.load(open(sys.argv[1]))["configs"]))' "$T/odd-sw/results.json")
    check_num "sweep: odd names: the grid's 2 configurations and the recipes'" "$NCONF" ">=" 7
    check_eq "sweep: results.tsv: each odd name in whole rows" "$NCONF $NCONF $NCONF" "$(for n in 'w\xff\xfe' 't\tab' 'n\nl'; do N=$n awk -F '\t' '$7 == ENVIRON["N"]' "$T/odd-sw/results.tsv" | wc -l; done | tr '\n' ' ' | sed 's/ $//')"
    check "sweep: results.json is strict UTF-8" strict_utf8 "$T/odd-sw/results.json"
    # a dataset under two names is one parameter, with a notice
    run inspect "$NM/soft.h5" --json -o "$T/soft.json"
    check_eq "inspect: a soft-linked duplicate is counted once" 1 "$(json_count "$T/soft.json" params)"
    check_grep "inspect: the notice names both" "^lbq: $NM/soft.h5: tensor 'alias': exp_avg is a soft link to the dataset of tensor 'w': counted once, as 'w'\$" "$ERR"
    # a file held open for writing (h5py takes the HDF5 file lock)
    rm -f "$NM/ready"
    "$PY" -c 'import h5py, sys, time; f = h5py.File(sys.argv[1], "a"); open(sys.argv[2], "w").close(); time.sleep(30)' "$NM/soft.h5" "$NM/ready" &
    LOCKER=$!
    for i in $(seq 200); do [ -f "$NM/ready" ] && break; sleep 0.05; done
    run inspect -q "$NM/soft.h5"
    check_error_contract "inspect: a file locked by a writer" $EXIT_INPUT
    check_eq "inspect: a file locked by a writer: the line" \
        "lbq: error: $NM/soft.h5: locked by another process that has it open for writing (HDF5 file locking); wait until the writer closes it" "$(cat "$ERR")"
    kill "$LOCKER" 2>/dev/null; wait "$LOCKER" 2>/dev/null
    # a file whose chunks exceed what --mem-limit allows: refused before any read, naming the limit
    # needed (16 MiB chunks need 16 x 16 MiB); accepted at that limit
    CHUNKMSG="lbq: error: $NM/bigchunk.h5: tensor 'w': exp_avg is stored in chunks of 16.0 MiB (uncompressed), more than the 1/16 of --mem-limit 64M that the chunk cache of one dataset may use; rerun with --mem-limit 256M or more, or rechunk the file (docs/format.md, 'Reading in slabs')"
    for c in inspect analyze quantize sweep; do
        reset_case; newdir; EXTRA=(--mem-limit 64M)
        build "$c" "$NM/bigchunk.h5" "$D"; run "${A[@]}"
        check_error_contract "$c: 16 MiB chunks at --mem-limit 64M" $EXIT_USAGE
        check_eq "$c: 16 MiB chunks at --mem-limit 64M: the line" "$CHUNKMSG" "$(cat "$ERR")"
        check_no_output "$c: 16 MiB chunks at --mem-limit 64M: nothing written"
        reset_case; newdir; EXTRA=(--mem-limit 256M)
        build "$c" "$NM/bigchunk.h5" "$D"; run "${A[@]}"
        check_rc "$c: 16 MiB chunks at --mem-limit 256M: exit 0" 0
    done
    # negative v: a warning naming the tensor and the count (not with -q)
    NEGW="lbq: warning: $NM/neg.h5: tensor 'w': 3 negative values in exp_avg_sq (Adam's v is >= 0; the unsigned v quantizers give them their lowest code)"
    for c in inspect analyze quantize sweep; do
        reset_case; QFLAG=""; newdir
        build "$c" "$NM/neg.h5" "$D"; run "${A[@]}"
        check_rc "$c: negative v: exit 0" 0
        check_eq "$c: negative v: the warning" "$NEGW" "$(grep 'negative' "$ERR")"
    done
fi

finish
