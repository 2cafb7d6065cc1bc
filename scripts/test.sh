#!/usr/bin/env bash
# Set up (with test tools), then run the whole test suite.  Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
export YOLO_OFFLINE=1 YOLO_AUTOINSTALL=0
exec .venv/bin/python -m pytest "$@"
