"""The `cleancut` command's entry point (and `python -m cleancut`'s).

Loading the engine's libraries (numpy, OpenCV, Pillow, PyAV) takes about half a second, and a
Ctrl-C then should end the command as one later does, with one line and the shell's status 130,
not with a traceback through the import machinery. Nothing has started yet, so there is nothing
to clean up.
"""

from __future__ import annotations

import sys

try:
    from . import cli
except KeyboardInterrupt:
    sys.stderr.write("cleancut: interrupted\n")
    raise SystemExit(130) from None


def main() -> int:
    """Run the command line in ``sys.argv``; its exit status."""
    return cli.main()
