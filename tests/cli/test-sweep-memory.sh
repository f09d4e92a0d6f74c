#!/usr/bin/env bash
# test-sweep-memory.sh - a sweep's peak memory does not grow with configurations x parameters
# (issue 16, item 11; docs/cli.md "Memory").  On a generated file of 1000 tiny [2, 2] tensors at
# --mem-limit 64M: an 18-configuration sweep stays within the documented bound
#     peak RSS <= --mem-limit + 48 MiB + 64 KiB per configuration + 24 KiB per parameter
# and above a 1-configuration sweep of the same file by at most 64 KiB per configuration + 8 MiB (the
# rows may stay in memory up to 1/8 of --mem-limit) + 4 MiB (lbq 0.1.0 at fb5d33f kept every row and the whole JSON document: about 3.4 KB per
# configuration x parameter, +60 MB here).  Peak RSS is the child's ru_maxrss, read by
# /usr/bin/python3 (which also writes the file with h5py; skipped without them).
. "$(dirname "$0")/lib.sh"

if [ -n "${LBQ_SANITIZE_BUILD:-}" ]; then
    skip_all "sanitizer build: ASan's shadow memory and quarantine inflate the RSS (this test runs in the main build)"
fi
PY=/usr/bin/python3
[ -x "$PY" ] && "$PY" -c 'import h5py, resource' 2>/dev/null || skip_all "needs /usr/bin/python3 with h5py"
NP=1000
"$PY" - "$T/tiny.h5" "$NP" <<'EOF'
import sys, h5py, numpy as np
rng = np.random.default_rng(1)
with h5py.File(sys.argv[1], "w") as f:
    f.attrs["lbq_format"] = np.int64(1); f.attrs["step"] = np.int64(10)
    for i in range(int(sys.argv[2])):
        g = f.create_group("p%05d" % i)
        m = (rng.standard_normal((2, 2)) * 1e-3).astype(np.float32)
        g.create_dataset("exp_avg", data=m); g.create_dataset("exp_avg_sq", data=(m * m * 0.5).astype(np.float32))
EOF
# peak RSS (KiB) of `lbq ARGS...`; its exit code in $RC
peak() {
    "$PY" - "$LBQ" "$@" >"$T/peak" 2>"$ERR" <<'EOF'
import sys, subprocess, resource
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
EOF
    RC=$(cut -d' ' -f1 "$T/peak")
    cut -d' ' -f2 "$T/peak"
}
COMMON=(--mem-limit 64M --no-plot --no-swamp --no-recipes -q)
K1=$(peak sweep "$T/tiny.h5" -o "$T/s1" --map dtree --bits 4 --block 128 --norm block "${COMMON[@]}")
check_rc "1 configuration: exit 0" 0
K18=$(peak sweep "$T/tiny.h5" -o "$T/s18" --map dtree,linear --bits 2-4 --block 32,2048 --norm block,rank1 "${COMMON[@]}")
check_rc "18 configurations: exit 0" 0
NC=$(grep -c '^			"label":' "$T/s18/results.json")
check_eq "18 configurations written" 18 "$NC"
check_eq "rows: configurations x parameters + TOTAL rows (the aggregate rows TOTAL:STAT, GROUP:NAME:STAT aside)" $((NC * NP + NC)) "$(tail -n +2 "$T/s18/results.tsv" | awk -F '\t' '$7 !~ /^(TOTAL|GROUP):/' | wc -l | tr -d ' ')"
note "peak RSS: 1 configuration ${K1} KiB, $NC configurations ${K18} KiB ($NP parameters, --mem-limit 64M)"
BOUND=$((64 * 1024 + 48 * 1024 + 64 * NC + 24 * NP))
check "peak RSS ${K18} KiB <= documented bound ${BOUND} KiB" test "$K18" -le "$BOUND"
GROWTH=$((K18 - K1))
check "growth over 1 configuration ${GROWTH} KiB <= $((64 * NC + 8192 + 4096)) KiB (rows beyond 1/8 of --mem-limit not in memory)" test "$GROWTH" -le $((64 * NC + 8192 + 4096))
finish
