#!/usr/bin/env bash
# test-gpu-check.sh - the GPU check kit without a GPU (scripts/gpu-check.sh, docs/cuda.md):
# `pack --no-build` from this build (the libraries a bare CUDA image lacks, under 64 MiB), then
# `run --dry-run` (every step with --device twin standing in for cuda: the launchers, the library
# resolution, the test programs, analyze and sweep compared byte for byte and numerically), and
# the comparison helpers on planted differences.  Skipped in CPU-only builds.
source "$(dirname "$0")/lib.sh"

run --version
grep -q "not built" "$OUT" && skip_all "CPU-only build"
BUILD=${LBQ_BUILD:-$(dirname "$LBQ")}
KITSH=$LBQ_SRC/scripts/gpu-check.sh

bash "$KITSH" pack --no-build --build-dir "$BUILD" -o "$T/kit" >"$T/pack.log" 2>&1
check_eq "pack exits 0" 0 "$?"
check "pack: kit.tar.gz, gpu-check.sh, MANIFEST" test -f "$T/kit/kit.tar.gz" -a -x "$T/kit/gpu-check.sh" -a -f "$T/kit/MANIFEST"
size=$(du -sb "$T/kit" | cut -f1)
check_num "kit under 64 MiB" "$size" "<=" $((64 * 1024 * 1024))
for l in libhdf5 libcjson liblapacke libopenblas libgomp; do
    check "MANIFEST lists $l" grep -q "^  $l" "$T/kit/MANIFEST"
done
check "MANIFEST: glibc is not packed" bash -c "! grep -Eq '^  (libc|libm|ld-linux)[.-]' '$T/kit/MANIFEST'"
check "kit.tar.gz holds bin/lbq and the test programs" bash -c "tar -tzf '$T/kit/kit.tar.gz' | grep -q '^bin/lbq$' && tar -tzf '$T/kit/kit.tar.gz' | grep -q '^bin/test-evaldev$'"

(cd "$T" && bash "$T/kit/gpu-check.sh" run --dry-run --data "$LBQ_SRC/data" -o "$T/summary.txt") >"$T/run.log" 2>&1
rc=$?
check_eq "run --dry-run exits 0" 0 "$rc" || cat "$T/summary.txt"
check "summary: no failed step" grep -Eq '^total: [0-9]+ passed, 0 failed' "$T/summary.txt"
check_num "summary: steps passed" "$(grep -c '^PASS' "$T/summary.txt")" ">=" 9
check "summary: every library resolves from the kit" grep -q '^PASS  libraries' "$T/summary.txt"
NRUN=$((2 * $(ls "$LBQ_SRC"/data/*.h5 | wc -l)))      # two analyze runs per bundled .h5
check_eq "summary: analyze twin runs byte-identical ($NRUN runs)" $NRUN "$(grep -c 'twin vs twin: identical' "$T/summary.txt")"
check_eq "summary: analyze twin vs cpu, 0 mismatches ($NRUN runs)" $NRUN "$(grep -c 'twin vs cpu: .*, 0 mismatches' "$T/summary.txt")"
check "summary: sweep twin vs cpu results.json, 0 mismatches" grep -q 'twin vs cpu results.json: .*, 0 mismatches' "$T/summary.txt"
check "summary: the GPU steps are listed as skipped" grep -q '^SKIP  lbq selftest --device cuda  (dry run)' "$T/summary.txt"

# the comparison helpers catch what they must
"$LBQ" analyze "$SAMPLE_EARLY" --recipe lpmm4 --device cpu --json "$T/a.json" -q >/dev/null
check "analyze --json for the helper checks" test -s "$T/a.json"
bash "$KITSH" bytecmp "$T/a.json" "$T/a.json" >/dev/null
check_eq "bytecmp: a file equals itself" 0 "$?"
sed 's/"device":	"cpu"/"device":	"cuda"/' "$T/a.json" >"$T/b.json"
bash "$KITSH" bytecmp "$T/a.json" "$T/b.json" >/dev/null
check_eq "bytecmp: the device field is aside" 0 "$?"
awk '/"n":/ && !done { sub(/[0-9]+,/, "12345679,"); done = 1 } { print }' "$T/a.json" >"$T/c.json"
check "planted a changed count" bash -c "! cmp -s '$T/a.json' '$T/c.json'"
bash "$KITSH" numcmp "$T/a.json" "$T/c.json" 1e-9 >"$T/nc.out"
check_eq "numcmp: a changed count is a mismatch" 1 "$?"
awk '/"rel_l2":.*[0-9][0-9][0-9],$/ && !done { sub(/[0-9][0-9],$/, "11,"); done = 1 } { print }' "$T/a.json" >"$T/d.json"
check "planted a changed float" bash -c "! cmp -s '$T/a.json' '$T/d.json'"
bash "$KITSH" numcmp "$T/a.json" "$T/d.json" 1e-9 >"$T/nd.out"
check_eq "numcmp: a float changed in its last digits passes at 1e-9" 0 "$?"
bash "$KITSH" numcmp "$T/a.json" "$T/d.json" 1e-20 >/dev/null
check_eq "numcmp: ... and fails at 1e-20" 1 "$?"
finish
