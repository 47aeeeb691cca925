#!/usr/bin/env bash
# The two set-up commands of the README:
#   ./dev.sh demo   set up, then remove the background of a real photo with the default model
#   ./dev.sh test   set up (including the real editors, as root), then run every test
# Set-up is a virtual environment in .venv with cleancut installed in editable mode.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}

setup() {
  if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    echo "cleancut needs Python 3.10 or newer; set PYTHON=/path/to/python3.x" >&2
    exit 1
  fi
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
}

case "${1:-}" in
  demo)
    setup
    mkdir -p out
    .venv/bin/cleancut remove examples/astronaut.png -o out/astronaut-cutout.png
    .venv/bin/cleancut remove examples/astronaut.png --mask -o out/astronaut-mask.png
    echo "cut-out: out/astronaut-cutout.png   mask: out/astronaut-mask.png"
    ;;
  test)
    setup
    shift
    if [ "$(id -u)" = 0 ]; then
      tests/hosts/setup.sh   # the real editors for the host tests (apt + a trixie chroot; cached)
    elif [ "${CLEANCUT_SKIP_HOSTS:-}" != 1 ]; then
      echo "not root: the real-editor host tests need 'sudo tests/hosts/setup.sh' first," >&2
      echo "or CLEANCUT_SKIP_HOSTS=1 to leave them out" >&2
    fi
    .venv/bin/python -m pytest -q "$@"
    ;;
  *)
    echo "usage: ./dev.sh demo | ./dev.sh test [pytest args]" >&2
    exit 2
    ;;
esac
