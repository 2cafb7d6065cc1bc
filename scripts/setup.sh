#!/usr/bin/env bash
# Create .venv (Python 3.11+) and install gazecam into it; a no-op when nothing changed.
# Usage: bash scripts/setup.sh [--test] [--extras LIST]
#   --test: also the test tools and the optional extras the tests cover (ray);
#   --extras LIST: comma-separated optional extras to install (e.g. --extras ray)
set -euo pipefail
cd "$(dirname "$0")/.."

wanted=()
while [ $# -gt 0 ]; do
  case "$1" in
    --test) wanted+=(test ray); shift ;;
    --extras) IFS=',' read -r -a more <<< "${2:?--extras needs a comma-separated list}"; wanted+=("${more[@]}"); shift 2 ;;
    --extras=*) IFS=',' read -r -a more <<< "${1#--extras=}"; wanted+=("${more[@]}"); shift ;;
    *) echo "setup.sh: unknown argument $1 (expected --test or --extras LIST)" >&2; exit 2 ;;
  esac
done
extras=""
if [ ${#wanted[@]} -gt 0 ]; then
  extras="[$(printf '%s\n' "${wanted[@]}" | awk 'NF && !seen[$0]++' | paste -sd, -)]"
fi

py="${PYTHON:-python3}"
if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "gazecam needs Python >= 3.11 (found: $("$py" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $("$py" --version)"
  "$py" -m venv .venv
fi

stamp=".venv/.gazecam-installed-$(cat pyproject.toml | sha256sum | cut -c1-16)$(printf '%s' "$extras" | tr -c 'a-z0-9' '-')"
if [ ! -e "$stamp" ]; then
  echo "setup: installing gazecam${extras} into .venv (first time: a few minutes, torch is large)"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".${extras}"
  touch "$stamp"
fi
