#!/usr/bin/env bash
# Install the Debian packages lbq needs, if missing.  Usage: scripts/setup.sh [--with-python]
#   build/run: cmake gcc make pkg-config libhdf5-dev libcjson-dev gnuplot-nox
#   MPI build (-DLBQ_MPI=ON, make test-mpi): libopenmpi-dev openmpi-bin
#   --with-python: python3-torch python3-h5py python3-numpy (only to regenerate data/ with the dump helper)
# The CUDA toolkit (nvcc) is used when present at /usr/local/cuda; it is not installed here.
set -euo pipefail
pkgs=(cmake gcc make libhdf5-dev libcjson-dev liblapacke-dev libopenblas-dev gnuplot-nox libopenmpi-dev openmpi-bin)
if [ "${1:-}" = "--with-python" ]; then pkgs+=(python3-torch python3-h5py python3-numpy); fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
echo "setup: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
