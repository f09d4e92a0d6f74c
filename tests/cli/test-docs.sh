#!/usr/bin/env bash
# docs/cli.md shows, for every command in `lbq --help`, exactly what `lbq help CMD` prints, and every
# command has a section (scripts/sync-cli-docs.sh regenerates the blocks).
source "$(dirname "$0")/lib.sh"
doc="$LBQ_SRC/docs/cli.md"
cmds=$("$LBQ" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { on = 0 }')
[ -n "$cmds" ] || { echo "no commands parsed from lbq --help"; exit 1; }
for c in $cmds; do
  block=$(awk -v c="$c" '$0 == "## lbq " c { want = 1; next } want && /^```/ && !inblk { inblk = 1; next } inblk && /^```/ { exit } inblk { print }' "$doc")
  if [ -z "$block" ]; then fail "docs/cli.md has no section '## lbq $c'"; continue; fi
  if [ "$block" = "$("$LBQ" help "$c")" ]; then pass "docs/cli.md usage of '$c' matches 'lbq help $c'"
  else fail "docs/cli.md usage of '$c' differs from 'lbq help $c' (run scripts/sync-cli-docs.sh)"; fi
done
# the top-level usage block (the first fenced block of the page) is what `lbq` with no arguments prints,
# and the Contents line links every command's section
top=$(awk '/^```/ { if (inblk) exit; inblk = 1; next } inblk { print }' "$doc")
if [ "$top" = "$("$LBQ" 2>&1)" ]; then pass "docs/cli.md top-level usage matches 'lbq'"
else fail "docs/cli.md top-level usage differs from what 'lbq' prints (run scripts/sync-cli-docs.sh)"; fi
contents=$(grep -m1 -A4 '^Contents:' "$doc" | tr '\n' ' ')
for c in $cmds; do
  case "$contents" in *"(#lbq-$c)"*) pass "docs/cli.md Contents links '$c'" ;;
                      *) fail "docs/cli.md Contents line lacks [$c](#lbq-$c)" ;; esac
done
finish
