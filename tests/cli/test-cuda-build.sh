#!/usr/bin/env bash
# test-cuda-build.sh - what the CUDA build really embeds, and the version report (docs/cuda.md):
#  1. the fatbinary of the built CUDA objects (cuobjdump --list-elf/--list-ptx where installed, and
#     scripts/fatbin-archs.py always) holds exactly the SASS and PTX that CMAKE_CUDA_ARCHITECTURES
#     names, and `lbq --version` reports the same (and __CUDA_ARCH_LIST__ as nvcc saw it);
#  2. configure only (no build), in scratch directories: with no architecture set, the default is
#     80-real;90-real;90-virtual (nvcc 13's enable_language would otherwise pick 75); flags that break
#     IEEE agreement in CUDAFLAGS are removed with a warning and the target pins the IEEE flags;
#     CUDAARCHS from the environment wins over the default.
# Skipped in CPU-only builds.  LBQ_SKIP_CONFIGURE=1 skips part 2 (about a minute on a loaded machine).
source "$(dirname "$0")/lib.sh"

run --version
check_rc "--version exits 0" 0
VER=$(cat "$OUT")
if grep -q "not built" "$OUT"; then skip_all "CPU-only build: $VER"; fi
BUILD=${LBQ_BUILD:-$(dirname "$LBQ")}
CACHE=$BUILD/CMakeCache.txt
[ -f "$CACHE" ] || skip_all "no CMakeCache.txt in $BUILD"

# ---- 1. embedded code ------------------------------------------------------------------------
ARCHS=$(sed -n 's/^CMAKE_CUDA_ARCHITECTURES:[A-Z]*=//p' "$CACHE")
exp_sass=""; exp_ptx=""; nums=""
for a in ${ARCHS//;/ }; do
    n=${a%%-*}
    case "$a" in
        *-real) exp_sass="$exp_sass sm_$n" ;;
        *-virtual) exp_ptx="$exp_ptx compute_$n" ;;
        *) exp_sass="$exp_sass sm_$n"; exp_ptx="$exp_ptx compute_$n" ;;
    esac
    nums="$nums ${n%%[af]}0"
done
exp_sass=$(echo $exp_sass); exp_ptx=$(echo $exp_ptx)
list=$(echo $(printf '%s\n' $nums | sort -un) | tr ' ' ',')
check "--version reports the SASS of CMAKE_CUDA_ARCHITECTURES ($ARCHS): $exp_sass" grep -qF "SASS: $exp_sass;" "$OUT"
check "--version reports the PTX: $exp_ptx" grep -qF "PTX: $exp_ptx;" "$OUT"
check "--version reports __CUDA_ARCH_LIST__ $list" grep -qF "__CUDA_ARCH_LIST__ $list)" "$OUT"

OBJS=$(find "$BUILD/CMakeFiles/lbqcuda.dir" -name '*.cu.o' | sort)
check "CUDA objects built" test -n "$OBJS"
want=$( { for s in $exp_sass; do echo "sass $s"; done; for p in $exp_ptx; do echo "ptx $p"; done; } | sort)
for o in $OBJS; do
    name=${o#$BUILD/}
    got=$(/usr/bin/python3 "$LBQ_SRC/scripts/fatbin-archs.py" "$o")
    check_eq "$name embeds exactly: $(echo $want)" "$want" "$got"
    CUOBJDUMP=$(command -v cuobjdump || ls /usr/local/cuda/bin/cuobjdump 2>/dev/null || true)
    if [ -n "$CUOBJDUMP" ]; then
        celf=$("$CUOBJDUMP" --list-elf "$o" | grep -o 'sm_[0-9]*[af]*' | sort -u | sed 's/^/sass /')
        cptx=$("$CUOBJDUMP" --list-ptx "$o" | grep -o 'sm_[0-9]*[af]*' | sort -u | sed 's/^sm_/ptx compute_/')
        check_eq "$name: cuobjdump agrees" "$want" "$(printf '%s\n%s\n' "$celf" "$cptx" | grep . | sort)"
    else
        skip "$name: cuobjdump" "not installed (fatbin-archs.py only)"
    fi
done
if lbq_has_device=$("$LBQ" --version | grep -o 'CUDA device: .*'); then
    check "--version with a device says SASS or JIT" grep -Eq 'runs SASS sm_|JIT-compiles PTX' <(echo "$lbq_has_device")
else
    skip "device report in --version" "no CUDA device"
fi

# ---- 2. configure checks ------------------------------------------------------------------------
if [ "${LBQ_SKIP_CONFIGURE:-0}" = 1 ]; then
    skip "configure checks" "LBQ_SKIP_CONFIGURE=1"
else
    NVCC=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
    (cd "$T" && env -u CUDAARCHS CUDAFLAGS="-O3 --use_fast_math -ftz=true" cmake -S "$LBQ_SRC" -B "$T/c1" \
        -DCMAKE_CUDA_COMPILER="$NVCC" >"$T/c1.log" 2>&1)
    check "configure with CUDAFLAGS=--use_fast_math succeeds" test -f "$T/c1/CMakeCache.txt"
    check_eq "no architectures set: default 80-real;90-real;90-virtual" "80-real;90-real;90-virtual" \
        "$(sed -n 's/^CMAKE_CUDA_ARCHITECTURES:[A-Z]*=//p' "$T/c1/CMakeCache.txt")"
    check "bad CUDAFLAGS: a warning names what was removed" grep -q "removed '--use_fast_math -ftz=true' from CMAKE_CUDA_FLAGS" "$T/c1.log"
    FL=$(grep -h '^CUDA_FLAGS' "$T/c1/CMakeFiles/lbqcuda.dir/flags.make" 2>/dev/null)
    check "lbqcuda flags: no --use_fast_math / -ftz=true" bash -c "! grep -Eq 'use_fast_math|ftz=true' <<<\"\$1\"" _ "$FL"
    check "lbqcuda flags pin -ftz=false -prec-div=true -prec-sqrt=true --fmad=false" \
        grep -q -- '-ftz=false -prec-div=true -prec-sqrt=true --fmad=false' <<<"$FL"
    check "lbqcuda flags: SASS sm_80, sm_90 and PTX compute_90" \
        grep -q -- 'arch=compute_80,code=\[sm_80\].*arch=compute_90,code=\[sm_90\].*arch=compute_90,code=\[compute_90\]' <<<"$FL"
    (cd "$T" && CUDAARCHS=86 cmake -S "$LBQ_SRC" -B "$T/c2" -DCMAKE_CUDA_COMPILER="$NVCC" >"$T/c2.log" 2>&1)
    check_eq "CUDAARCHS=86 in the environment wins" "86" "$(sed -n 's/^CMAKE_CUDA_ARCHITECTURES:[A-Z]*=//p' "$T/c2/CMakeCache.txt")"
    check "CUDAARCHS=86: SASS sm_86 and PTX compute_86 reported at configure" grep -q "SASS: sm_86; PTX: compute_86" "$T/c2.log"
fi
finish
