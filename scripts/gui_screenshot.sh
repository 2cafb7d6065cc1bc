#!/usr/bin/env bash
# Screenshot of the desktop app under a virtual X server (what CI runs).
# Needs: apt-get install -y xvfb libxcb-icccm4 libxcb-keysyms1
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
exec xvfb-run -a -s "-screen 0 1600x1000x24" "$PY" scripts/gui_screenshot.py --no-xvfb "$@"
