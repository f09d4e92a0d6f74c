#!/usr/bin/env bash
# Run every experiment on the bundled data (about two minutes on 2 cores).
set -euo pipefail
here="$(dirname "$0")"
for e in zero-point swamping block-size bitwidth; do echo "== $e"; bash "$here/$e.sh"; done
