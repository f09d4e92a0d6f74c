# Shared by the experiment scripts: locate lbq and the bundled sample, make the output directory.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LBQ="${LBQ:-$ROOT/build/lbq}"
SAMPLE="${SAMPLE:-$ROOT/data/sample-late.h5}"
OUT="${OUT:-$ROOT/out/experiments}"
if [ ! -x "$LBQ" ]; then echo "experiments: build lbq first (make build), or set LBQ=path/to/lbq" >&2; exit 2; fi
mkdir -p "$OUT"
