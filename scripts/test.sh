#!/usr/bin/env bash
# Set up (with test tools), then run the whole test suite.  Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
# The GUI has one test on a real X server (Xvfb); install it where we can (Debian, as root), else that test skips.
if ! command -v Xvfb >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "setup: installing Xvfb (Debian packages) for the GUI test on a real X server"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxkbcommon-x11-0; } >/dev/null 2>&1 \
    || echo "setup: could not install Xvfb; the real-X-server GUI test will be skipped" >&2
fi
# The report has one test in a real headless browser (Debian's chromium); install it where we can, else it skips.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "setup: installing chromium (Debian package) for the report's headless-browser test"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null 2>&1 \
    || echo "setup: could not install chromium; the report's browser test will be skipped" >&2
fi
# Real footage from Debian's opencv-doc examples: vtest.avi (pedestrians, offline head-detector test) and
# Megamind*.avi (AVIs with packed B-frames); without them those tests skip.
if ! [ -e /usr/share/doc/opencv-doc/examples/data/Megamind_bugy.avi ] && [ "$(id -u)" = 0 ] \
    && command -v apt-get >/dev/null 2>&1; then
  echo "setup: installing opencv-doc (Debian package) for its example videos"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq opencv-doc; } >/dev/null 2>&1 \
    || echo "setup: could not install opencv-doc; the tests on its real videos will be skipped" >&2
fi
export YOLO_OFFLINE=1 YOLO_AUTOINSTALL=0
exec .venv/bin/python -m pytest "$@"
