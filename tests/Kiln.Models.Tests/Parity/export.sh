#!/usr/bin/env bash
# Regenerates the parity reference files next to this script with Debian's python3-torch (installed when missing).
# The files are committed: the parity test reads them and needs no PyTorch.
#   tests/Kiln.Models.Tests/Parity/export.sh [case ...]
set -euo pipefail
cd "$(dirname "$0")"
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
  echo "installing PyTorch (Debian python3-torch)..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch >/dev/null
fi
# Debian's python3-torch is for the system interpreter; the python3 first on PATH may be another installation.
exec /usr/bin/python3 export.py "$@"
