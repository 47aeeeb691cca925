#!/usr/bin/env bash
# Installs the real editors the host tests drive (recipes: ../shared/HOSTS.md):
#   Debian 12 natively: GIMP 2.10 (Script-Fu only), Krita 5.1.5, Blender 3.4.1, Xvfb;
#   a Debian 13 "trixie" chroot: GIMP 3.0.4 (Python 3.13 plug-ins), Krita 5.2.9, Blender 4.3.2,
#   plus the engine's Python 3.13 wheels in $TRIXIE/opt/site313.
# Idempotent: a finished step leaves a marker and is skipped next time. Needs root and apt.
# Usage: tests/hosts/setup.sh            (everything)
#        TRIXIE=/path tests/hosts/setup.sh   (chroot location; default /var/cache/cleancut-trixie)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
TRIXIE=${TRIXIE:-/var/cache/cleancut-trixie}
PY=${PYTHON_FOR_WHEELS:-$repo/.venv/bin/python}

log() { printf '[hosts] %s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
  echo "tests/hosts/setup.sh needs root (apt-get, debootstrap, chroot)" >&2
  exit 1
fi

if [ ! -e /var/lib/cleancut-hosts.debian12 ]; then
  log "installing Debian 12 hosts (gimp 2.10, krita 5.1, blender 3.4, xvfb, debootstrap)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    blender krita python3-pyqt5 gimp xvfb xauth debootstrap >/dev/null
  touch /var/lib/cleancut-hosts.debian12
fi

mount_chroot() {
  for fs in proc sys dev dev/pts; do
    mountpoint -q "$TRIXIE/$fs" || mount --bind "/$fs" "$TRIXIE/$fs"
  done
}

if [ ! -e "$TRIXIE/.cleancut-ready" ]; then
  if [ ! -e "$TRIXIE/.debootstrapped" ]; then
    log "debootstrap trixie into $TRIXIE"
    "$here/chroot.sh" umount 2>/dev/null || true
    [ -d "$TRIXIE" ] && rm -rf --one-file-system "$TRIXIE"
    mkdir -p "$TRIXIE"
    debootstrap --variant=minbase trixie "$TRIXIE" http://deb.debian.org/debian >/dev/null
    touch "$TRIXIE/.debootstrapped"
  fi
  mount_chroot
  cp /etc/resolv.conf "$TRIXIE/etc/resolv.conf" 2>/dev/null || true
  log "installing gimp 3, krita 5.2, blender 4.3 in the chroot"
  chroot "$TRIXIE" apt-get update -qq
  chroot "$TRIXIE" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    gimp python3-gi gir1.2-gimp-3.0 blender krita python3-pyqt5 xvfb xauth >/dev/null
  chroot "$TRIXIE" apt-get clean
  touch "$TRIXIE/.cleancut-ready"
fi

if [ ! -e "$TRIXIE/opt/site313/.ready-2" ]; then
  log "engine wheels for Python 3.13 into $TRIXIE/opt/site313"
  rm -rf "$TRIXIE/opt/site313"
  "$PY" -m pip install --quiet --disable-pip-version-check --target "$TRIXIE/opt/site313" \
    --python-version 3.13 --only-binary=:all: --platform manylinux_2_28_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    numpy scipy onnxruntime pillow pooch platformdirs tqdm requests
  touch "$TRIXIE/opt/site313/.ready" "$TRIXIE/opt/site313/.ready-2"
fi
log "hosts ready (chroot: $TRIXIE)"
