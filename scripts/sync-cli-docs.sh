#!/usr/bin/env bash
# Rewrite the usage block of every command in docs/cli.md (the first ``` block after "## lbq CMD")
# from `lbq help CMD`, and the page's first ``` block from what `lbq` with no arguments prints, so the page cannot drift from the program.  tests/cli/test-docs.sh checks it.
# Usage: scripts/sync-cli-docs.sh [path/to/lbq]
set -euo pipefail
cd "$(dirname "$0")/.."
LBQ="${1:-build/lbq}"
doc=docs/cli.md
tmp=$(mktemp)
awk -v lbq="$LBQ" '
  !top && /^```/ { print; inblk = 1; top = 1; c = lbq " 2>&1"; while ((c | getline line) > 0) print line; close(c); next }
  /^## lbq / { cmd = $3; want = 1; print; next }
  want && /^```/ && !inblk { print; inblk = 1; c = lbq " help " cmd; while ((c | getline line) > 0) print line; close(c); next }
  inblk && /^```/ { inblk = 0; want = 0; print; next }
  inblk { next }
  { print }
' "$doc" > "$tmp"
mv "$tmp" "$doc"
