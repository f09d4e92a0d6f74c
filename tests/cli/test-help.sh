#!/usr/bin/env bash
# test-help.sh - help, usage and version: `lbq`, `lbq --help`/-h, `lbq --version`, `lbq help`,
# `lbq help CMD` and `lbq CMD --help` for every command of the table that `lbq --help` prints;
# unknown commands and unknown options (one stderr line, exit 2).
source "$(dirname "$0")/lib.sh"

# ---- lbq --help: the command table --------------------------------------------------------------
run --help
check_rc "--help exits 0" 0
check_empty "--help: nothing on stderr" "$ERR"
check "--help starts with 'usage: lbq <command>'" grep -q '^usage: lbq <command>' <(head -n 1 "$OUT")
cp "$OUT" "$T/main-help"
# the table: the indented "  name   summary" lines after "commands:" up to the next blank line
CMDS=$(awk '/^commands:/ { on = 1; next } on && /^$/ { exit } on && /^  [a-z]/ { print $1 }' "$T/main-help")
NCMDS=$(echo "$CMDS" | grep -c .)
check_num "the command table lists commands" "$NCMDS" ">=" 7
# the commands the program documents in its own examples and error hints must be in the table
for c in inspect list quantize analyze simulate sweep theory help; do
    check "table lists '$c'" grep -qx "$c" <(echo "$CMDS")
done
check_eq "table names are unique" "$NCMDS" "$(echo "$CMDS" | sort -u | grep -c .)"
# every table line has a one-line summary
check_eq "every table entry has a summary" "$NCMDS" \
    "$(awk '/^commands:/ { on = 1; next } on && /^$/ { exit } on && /^  [a-z]+ +[^ ]/ { n++ } END { print n + 0 }' "$T/main-help")"

run -h
check_rc "-h exits 0" 0
check_eq "-h prints the same as --help" "$(cat "$T/main-help")" "$(cat "$OUT")"

run help
check_rc "'lbq help' exits 0" 0
check_eq "'lbq help' prints the command table (same as --help)" "$(cat "$T/main-help")" "$(cat "$OUT")"

# ---- lbq with no arguments: usage on stderr, exit 2 ----------------------------------------------
run
check_rc "no arguments: exit 2" 2
check_empty "no arguments: nothing on stdout" "$OUT"
check "no arguments: usage on stderr" grep -q '^usage: lbq <command>' <(head -n 1 "$ERR")
check_eq "no arguments: stderr has the command table" "$(cat "$T/main-help")" "$(cat "$ERR")"

# ---- --version: "lbq X.Y.Z ..." with the project version from CMakeLists.txt --------------------
VER=$(sed -n 's/^project(lbq VERSION \([0-9.]*\).*/\1/p' "$LBQ_SRC/CMakeLists.txt")
run --version
check_rc "--version exits 0" 0
check_empty "--version: nothing on stderr" "$ERR"
check_eq "--version prints one line" 1 "$(wc -l <"$OUT")"
run -V
check_rc "-V exits 0" 0
check_eq "-V is --version" 1 "$(wc -l <"$OUT")"
if [ -n "$VER" ]; then
    check "--version names version $VER (CMakeLists.txt)" grep -q "^lbq $VER\b" "$OUT"
else
    skip "--version vs CMakeLists.txt" "project version not found"
fi

# ---- per command ---------------------------------------------------------------------------------
for c in $CMDS; do
    run "$c" --help
    check_rc "'$c --help' exits 0" 0
    check_empty "'$c --help': nothing on stderr" "$ERR"
    check "'$c --help' starts with 'usage: lbq $c'" grep -q "^usage: lbq $c\b" <(head -n 1 "$OUT")
    cp "$OUT" "$T/help-$c"
    run "$c" -h
    check_rc "'$c -h' exits 0" 0
    check_eq "'$c -h' equals '$c --help'" "$(cat "$T/help-$c")" "$(cat "$OUT")"
    run help "$c"
    check_rc "'help $c' exits 0" 0
    check_empty "'help $c': nothing on stderr" "$ERR"
    check_eq "'help $c' equals '$c --help'" "$(cat "$T/help-$c")" "$(cat "$OUT")"
    # -h/--help anywhere: after other arguments, it still prints the help and does nothing else
    run "$c" "$T/no-such-input.h5" --help
    check_rc "'$c FILE --help' exits 0" 0
    check_eq "'$c FILE --help' prints the help" "$(cat "$T/help-$c")" "$(cat "$OUT")"
    if grep -q -- '-o, --output' "$T/help-$c"; then
        run "$c" "$T/no-such-input.h5" -o "$T/help-side-effect" --help
        check_rc "'$c FILE -o X --help' exits 0" 0
        check "'$c FILE -o X --help' writes nothing" test ! -e "$T/help-side-effect"
    fi
    # its help is more than the usage line
    check_num "'$c --help' has a description" "$(wc -l <"$T/help-$c")" ">=" 2

    # unknown long and short options: exactly one line on stderr naming the option, exit 2
    for opt in --no-such-option -Z; do
        run "$c" "$opt"
        check_no_crash "'$c $opt': no crash"
        check_rc "'$c $opt': exit 2" 2
        check_eq "'$c $opt': exactly one stderr line" 1 "$(wc -l <"$ERR")"
        check "'$c $opt': stderr names the option" grep -qF -- "'$opt'" "$ERR"
        check "'$c $opt': stderr starts with 'lbq'" grep -q '^lbq' "$ERR"
        check_empty "'$c $opt': nothing on stdout" "$OUT"
    done
done

# ---- unknown commands ----------------------------------------------------------------------------
for bad in frobnicate analyse Inspect; do
    run "$bad"
    check_rc "unknown command '$bad': exit 2" 2
    check_eq "unknown command '$bad': exactly one stderr line" 1 "$(wc -l <"$ERR")"
    check "unknown command '$bad': stderr names it" grep -qF "'$bad'" "$ERR"
    check_empty "unknown command '$bad': nothing on stdout" "$OUT"
done
run help frobnicate
check_rc "'help frobnicate': exit 2" 2
check_eq "'help frobnicate': exactly one stderr line" 1 "$(wc -l <"$ERR")"
check "'help frobnicate': stderr names it" grep -qF "'frobnicate'" "$ERR"
run --no-such-global
check_rc "unknown global option: exit 2" 2
check_eq "unknown global option: exactly one stderr line" 1 "$(wc -l <"$ERR")"
check "unknown global option: stderr names it" grep -qF "'--no-such-global'" "$ERR"

finish
