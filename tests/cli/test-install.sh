#!/usr/bin/env bash
# test-install.sh - `cmake --install` into a temporary prefix (README "Install"), then the installed
# lbq on its own: no LBQ_PLOTS_DIR, run from a directory outside the source tree.
#
#  - PREFIX/bin/lbq, PREFIX/share/lbq/plots/*.gp, PREFIX/share/lbq/python/lbq_dump.py,
#    PREFIX/share/lbq/data/sample-late.h5, PREFIX/share/doc/lbq/README.md and docs/figures.md exist;
#  - `lbq analyze` and `lbq sweep` (with figures) run from the prefix on the installed sample;
#  - the installed lbq reads the installed scripts: a broken copy of one installed script makes
#    `lbq plot` fail on exactly that figure (so the test can fail when the wrong scripts are used);
#  - the dump helper imports from the prefix with PYTHONPATH (when /usr/bin/python3 has torch and
#    h5py), and without them its error names the packages to install.
# Skips (77) without cmake or gnuplot.
source "$(dirname "$0")/lib.sh"

command -v cmake >/dev/null 2>&1 || skip_all "cmake is not installed"
command -v gnuplot >/dev/null 2>&1 || skip_all "gnuplot is not installed (apt-get install gnuplot-nox)"
[ -n "${LBQ_BUILD:-}" ] && [ -f "$LBQ_BUILD/cmake_install.cmake" ] || skip_all "LBQ_BUILD is not a configured build directory"

P=$T/prefix
if cmake --install "$LBQ_BUILD" --prefix "$P" >"$T/install.log" 2>&1; then pass "cmake --install --prefix"
else fail "cmake --install --prefix" "$(tail -5 "$T/install.log")"; finish; fi
for f in bin/lbq share/lbq/plots/lbq-style.gp share/lbq/plots/fig7-memory-vs-error.gp share/lbq/python/lbq_dump.py \
         share/lbq/data/sample-late.h5 share/doc/lbq/README.md share/doc/lbq/docs/figures.md; do
    check "installed $f" test -s "$P/$f"
done
check "installed lbq is executable" test -x "$P/bin/lbq"

# the installed program, from a directory outside the source tree, without LBQ_PLOTS_DIR
LBQ=$P/bin/lbq
mkdir -p "$T/work" && cd "$T/work" || exit 1
unset LBQ_PLOTS_DIR
run analyze "$P/share/lbq/data/sample-late.h5" --recipe lpmm4 --params 7e9 -q
check_rc "installed lbq analyze" 0
check_grep "analyze prints the TOTAL row" '^TOTAL' "$OUT"
run sweep "$P/share/lbq/data/sample-late.h5" -o out --map dtree,linear,uniform --bits 4 --block 64,128
check_rc "installed lbq sweep" 0
check_grep "sweep wrote its figures" 'wrote [0-9]+ figures \(PNG \+ PDF\)' "$ERR"
for fig in fig1-error-vs-bits fig2-error-vs-block fig4-swamping fig7-memory-vs-error; do
    check "out/$fig.png" test -s "out/$fig.png"
    check "out/$fig.pdf" test -s "out/$fig.pdf"
done
check_grep "the .dat names the installed script" "$P/share/lbq/plots/fig1-error-vs-bits.gp|share/lbq/plots/fig1-error-vs-bits.gp" out/fig1-error-vs-bits.dat

# the installed scripts are the ones used: break one, and exactly that figure fails
chmod u+w "$P/share/lbq/plots/fig4-swamping.gp"
echo 'this_is_not_a_gnuplot_command' >>"$P/share/lbq/plots/fig4-swamping.gp"
run plot out/results.json -o out2
check_rc "a broken installed script fails lbq plot" 4
check_grep "the failure names that figure" 'fig4-swamping: gnuplot failed' "$ERR"

# the Python helper from the prefix
if /usr/bin/python3 -c 'import torch, h5py' >/dev/null 2>&1; then
    if PYTHONPATH=$P/share/lbq/python /usr/bin/python3 -c 'import lbq_dump; print(lbq_dump.LBQ_FORMAT_VERSION)' >"$T/py.out" 2>&1
    then check_eq "lbq_dump imports from the prefix" 1 "$(cat "$T/py.out")"
    else fail "lbq_dump imports from the prefix" "$(tail -3 "$T/py.out")"; fi
else
    skip "lbq_dump import" "/usr/bin/python3 has no torch/h5py"
fi
# an interpreter without h5py/torch: the error says what to install (python3 -I -S has no site packages)
if PYTHONPATH=$P/share/lbq/python /usr/bin/python3 -S -c 'import sys; sys.path.insert(0, sys.argv[1]); import lbq_dump' "$P/share/lbq/python" >"$T/py2.out" 2>&1
then skip "lbq_dump error message" "imports even without site packages"
else check_grep "import error names the packages" 'apt-get install python3-torch python3-h5py' "$T/py2.out"; fi

finish
