#!/usr/bin/env bash
# Installs the real editors the host tests drive (recipes: ../shared/HOSTS.md):
#   Debian 12 natively: GIMP 2.10 (Script-Fu only), Krita 5.1.5, Blender 3.4.1, Xvfb;
#   a Debian 13 "trixie" chroot: GIMP 3.0.4 (Python 3.13 plug-ins), Krita 5.2.9, Blender 4.3.2,
#     plus the engine's Python 3.13 wheels in $TRIXIE/opt/site313;
#   a Debian sid chroot: GIMP 3.2.6, Krita 5.3.4, Blender 5.2.2 (Python 3.14),
#     plus the engine's Python 3.14 wheels in $SID/opt/site314;
#   Blender 4.5 LTS and 5.0 as PyPI `bpy` wheels for this venv's Python 3.11 in $BPY/VERSION.
# Idempotent: a finished step leaves a marker and is skipped next time. Needs root and apt.
# Usage: tests/hosts/setup.sh            (everything)
#        TRIXIE=/path SID=/path BPY=/path tests/hosts/setup.sh   (other locations)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
TRIXIE=${TRIXIE:-/var/cache/cleancut-trixie}
SID=${SID:-/var/cache/cleancut-sid}
BPY=${BPY:-/var/cache/cleancut-bpy}
PY=${PYTHON_FOR_WHEELS:-$repo/.venv/bin/python}
# the bpy wheels the tests expect: hostkit.BPY_WHEELS is the one list
BPY_VERSIONS=${BPY_VERSIONS:-$(cd "$here" && "$PY" -c 'import hostkit; print(" ".join(hostkit.BPY_WHEELS.values()))')}
EDITORS="gimp python3-gi gir1.2-gimp-3.0 blender krita python3-pyqt5 xvfb xauth"

log() { printf '[hosts] %s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
  echo "tests/hosts/setup.sh needs root (apt-get, debootstrap, chroot)" >&2
  exit 1
fi

if [ ! -e /var/lib/cleancut-hosts.debian12-2 ]; then
  log "installing Debian 12 hosts (gimp 2.10, krita 5.1, blender 3.4, xvfb, xdotool, debootstrap)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    blender krita python3-pyqt5 gimp xvfb xauth xdotool debootstrap >/dev/null
  touch /var/lib/cleancut-hosts.debian12-2
fi

# make_chroot DIR SUITE: debootstrap SUITE into DIR and install the editors there.
make_chroot() {
  local dir=$1 suite=$2
  [ -e "$dir/.cleancut-ready" ] && return 0
  if [ ! -e "$dir/.debootstrapped" ]; then
    log "debootstrap $suite into $dir"
    CHROOT=$dir "$here/chroot.sh" umount 2>/dev/null || true
    [ -d "$dir" ] && rm -rf --one-file-system "$dir"
    mkdir -p "$dir"
    debootstrap --variant=minbase "$suite" "$dir" http://deb.debian.org/debian >/dev/null
    touch "$dir/.debootstrapped"
  fi
  for fs in proc sys dev dev/pts; do
    mountpoint -q "$dir/$fs" || mount --bind "/$fs" "$dir/$fs"
  done
  cp /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || true
  log "installing gimp, krita, blender in the $suite chroot"
  # sid's Release file can be past its Valid-Until date on a given day
  chroot "$dir" apt-get -o Acquire::Check-Valid-Until=false update -qq
  chroot "$dir" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    $EDITORS >/dev/null
  chroot "$dir" apt-get clean
  touch "$dir/.cleancut-ready"
}

# engine_wheels DIR PYVER: the engine's binary dependencies for the chroot's Python PYVER.
engine_wheels() {
  local site=$1 pyver=$2
  [ -e "$site/.ready-2" ] && return 0
  log "engine wheels for Python $pyver into $site"
  rm -rf "$site"
  "$PY" -m pip install --quiet --disable-pip-version-check --target "$site" \
    --python-version "$pyver" --only-binary=:all: --platform manylinux_2_28_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    numpy scipy onnxruntime pillow platformdirs tqdm requests
  touch "$site/.ready" "$site/.ready-2"
}

make_chroot "$TRIXIE" trixie
engine_wheels "$TRIXIE/opt/site313" 3.13
make_chroot "$SID" sid
engine_wheels "$SID/opt/site314" 3.14

for version in $BPY_VERSIONS; do
  if [ ! -e "$BPY/$version/.ready" ]; then
    log "Blender $version as the PyPI bpy wheel into $BPY/$version"
    rm -rf "$BPY/$version"
    "$PY" -m pip install --quiet --disable-pip-version-check --target "$BPY/$version" "bpy==$version"
    touch "$BPY/$version/.ready"
  fi
done
log "hosts ready (chroots: $TRIXIE $SID; bpy: $BPY)"
