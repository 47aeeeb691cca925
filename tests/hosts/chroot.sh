#!/usr/bin/env bash
# Run a command inside a chroot of tests/hosts/setup.sh (CHROOT=DIR; default the trixie one), with the repository and a scratch folder bound in at
# the SAME paths they have outside (so paths need no translating), HOME=SCRATCH/home, and a
# clean environment: pass variables with `env NAME=VALUE` in CMD.
#   tests/hosts/chroot.sh run SCRATCH CMD...
#   tests/hosts/chroot.sh umount        (undo every bind mount; always before deleting the chroot)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
ROOT=${CHROOT:-${TRIXIE:-/var/cache/cleancut-trixie}}

bind() {  # bind PATH: the host PATH at the same PATH inside the chroot
  mkdir -p "$ROOT$1"
  if mountpoint -q "$ROOT$1"; then
    # A mount left by an earlier run may show a since-deleted folder of the same name: renew it.
    [ "$(stat -c %d:%i "$1")" = "$(stat -c %d:%i "$ROOT$1" 2>/dev/null)" ] && return 0
    umount -l "$ROOT$1" || true
  fi
  mount --bind "$1" "$ROOT$1"
}

case "${1:-}" in
  run)
    scratch=$(cd "$2" && pwd); shift 2
    # Runs in one chroot may overlap (the host tests run Krita beside Blender): each run signs in
    # under $users while it needs the scratch mount, and the last one out unmounts it. A run
    # killed with its process group leaves its name behind; names of dead runs are dropped.
    users=/run/cleancut-chroot/$(printf '%s' "$ROOT$scratch" | tr '/' '_')
    mkdir -p "$users"
    exec 9>"$users.lock"
    flock 9
    touch "$users/$$"
    for fs in /proc /sys /dev /dev/pts "$repo"; do bind "$fs"; done
    bind "$scratch"
    flock -u 9
    mkdir -p "$scratch/home"
    status=0
    chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$scratch/home" \
      LANG=C.UTF-8 "$@" 9>&- || status=$?
    flock 9
    rm -f "$users/$$"
    for user in "$users"/*; do
      [ -e "$user" ] && ! kill -0 "${user##*/}" 2>/dev/null && rm -f "$user"
    done
    if [ -z "$(ls -A "$users")" ]; then
      umount "$ROOT$scratch" 2>/dev/null || umount -l "$ROOT$scratch" 2>/dev/null || true
    fi
    flock -u 9
    exit $status
    ;;
  umount)
    grep -o " $ROOT[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m" || true; done
    ;;
  *)
    echo "usage: chroot.sh run SCRATCH CMD... | chroot.sh umount" >&2
    exit 2
    ;;
esac
