#!/usr/bin/env bash
# test-layers.sh - the layering rules of docs/architecture.md that grep can check:
#  - no map or normalization name is compared outside quantizers/ (cli/, src/, include/): no strcmp,
#    strncmp, strcasecmp, lbq_streq_ci or lbq_name_matches with a registered name as a literal, no
#    lbq_map_find("...") / lbq_norm_find("...") with a literal, no reference to a registered entry
#    object (lbq_map_log, &lbq_norm_block, ...).  The names are read from quantizers/*.c (.name = "...");
#  - quantizers/ includes no header of src/ (only lbq-quant-impl.h, qcore.h, torchmap.h, lbq.h, registry.def);
#  - cli/ includes only include/*.h, src/cuda/lbq-cuda.h and cli/*.h.
# The name check is first run on a planted comparison, so it can fail.
source "$(dirname "$0")/lib.sh"
cd "$LBQ_SRC" || exit 1

names=$(sed -n 's/.*\.name = "\([A-Za-z0-9_-]*\)".*/\1/p' quantizers/*.c | paste -sd'|')
check "names read from quantizers/*.c (dtree, log, block, rank1 among them)" \
    bash -c "printf '%s' '$names' | tr '|' '\n' | grep -qx log && printf '%s' '$names' | tr '|' '\n' | grep -qx rank1"
# the check of docs/architecture.md, "Checks"
name_check() {   # DIRS... : prints every comparison of a registered name
    grep -rnE "(strn?cmp|strcasecmp|lbq_streq_ci|lbq_name_matches)[[:space:]]*\([^;]*\"($names)[0-9]*\"|lbq_(map|norm)_find[[:space:]]*\([[:space:]]*\"|\blbq_(map|norm)_($names)\b" "$@"
}
mkdir -p "$T/planted"
printf 'static int f(const struct lbq_map *m) { return strcmp(m->name, "log") == 0; }\n' >"$T/planted/a.c"
printf 'static int g(void) { return lbq_norm_find("rank1") != 0; }\n' >"$T/planted/b.c"
printf 'static int h(const struct lbq_qplan *p) { return p->norm == &lbq_norm_block; }\n' >"$T/planted/c.c"
check_eq "the name check finds three planted comparisons" 3 "$(name_check "$T/planted" | wc -l)"
check_eq "no map or normalization name compared in cli/ src/ include/" "" "$(name_check cli src include)"

check_eq "quantizers/ includes no header of src/" "" \
    "$(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' quantizers/*.c quantizers/*.h | grep -vE '"(lbq-quant-impl\.h|qcore\.h|torchmap\.h|lbq\.h|registry\.def)"')"
cli_bad=""
while IFS= read -r line; do
    h=$(printf '%s' "$line" | sed 's/.*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/')
    if [ -f "include/$h" ] || [ -f "cli/$h" ] || [ "$h" = "lbq-cuda.h" ]; then continue; fi
    cli_bad="$cli_bad$line;"
done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' cli/*.c cli/*.h)
check_eq "cli/ includes only include/, cli/ and lbq-cuda.h headers" "" "$cli_bad"

finish
