"""Where the repository and the host tests are, and what to run when an editor is missing."""

from __future__ import annotations

from pathlib import Path

HOSTS = Path(__file__).resolve().parent.parent  # tests/hosts
REPO = HOSTS.parent.parent
CHROOT_SH = HOSTS / "chroot.sh"
SETUP = "run `sudo tests/hosts/setup.sh`"  # the one remedy for anything missing
