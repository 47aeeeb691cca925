#!/usr/bin/env bash
# Installs the real editors the host tests drive (recipes: ../shared/HOSTS.md):
#   Debian 12 natively: GIMP 2.10 (Script-Fu only), Krita 5.1.5, Blender 3.4.1, Xvfb;
#   a Debian 13 "trixie" chroot: GIMP 3.0.4 (Python 3.13 plug-ins), Krita 5.2.9, Blender 4.3.2,
#     plus the engine's Python 3.13 wheels in $TRIXIE/opt/site313;
#   a Debian sid chroot: GIMP 3.2.6, Krita 5.3.4, Blender 5.2.2 (Python 3.14),
#     plus the engine's Python 3.14 wheels in $SID/opt/site314;
#   a second Debian sid chroot with experimental's Krita 6.0 (Qt 6, PyQt6, Python 3.14) in
#     $KRITA6, plus the engine's Python 3.14 wheels in $KRITA6/opt/site314;
#   Blender 4.5 LTS and 5.0 as PyPI `bpy` wheels for this venv's Python 3.11 in $BPY/VERSION;
#   Blender 5.1 and 5.3 as PyPI `bpy` wheels for Python 3.13 (cp313 only), run by the trixie
#     chroot's python3.13, in $TRIXIE/opt/bpy/VERSION.
# Idempotent: a finished step leaves a marker and is skipped next time. Needs root and apt.
# Usage: tests/hosts/setup.sh            (everything)
#        TRIXIE=/path SID=/path KRITA6=/path BPY=/path tests/hosts/setup.sh   (other locations)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
TRIXIE=${TRIXIE:-/var/cache/cleancut-trixie}
SID=${SID:-/var/cache/cleancut-sid}
KRITA6=${KRITA6:-/var/cache/cleancut-krita6}
BPY=${BPY:-/var/cache/cleancut-bpy}
PY=${PYTHON_FOR_WHEELS:-$repo/.venv/bin/python}
# the bpy wheels the tests expect: hostkit.BPY_WHEELS (this venv's Python 3.11) and
# hostkit.BPY313_WHEELS (the trixie chroot's Python 3.13) are the one list
wheels() { (cd "$here" && "$PY" -c "import hostkit; print(' '.join(hostkit.$1.values()))"); }
BPY_VERSIONS=${BPY_VERSIONS:-$(wheels BPY_WHEELS)}
BPY313_VERSIONS=${BPY313_VERSIONS:-$(wheels BPY313_WHEELS)}
BPY313_DIR=$TRIXIE$(cd "$here" && "$PY" -c 'import hostkit; print(hostkit.BPY313_DIR)')
EDITORS="gimp python3-gi gir1.2-gimp-3.0 blender krita python3-pyqt5 xvfb xauth"
# Krita 6 from experimental (it replaces sid's Krita 5.3, hence a chroot of its own);
# qt6-svg-plugins keeps its QML icons from filling the log with "Unsupported image format"
KRITA6_PACKAGES="krita python3-pyqt6 xvfb xauth qt6-svg-plugins"

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

# make_chroot DIR SUITE PACKAGES [experimental]: debootstrap SUITE into DIR and install PACKAGES
# there (with "experimental": sid's sources gain experimental, and PACKAGES come from it).
make_chroot() {
  local dir=$1 suite=$2 packages=$3 extra=${4:-}
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
  # sid's Release file can be past its Valid-Until date on a given day
  echo 'Acquire::Check-Valid-Until "false";' > "$dir/etc/apt/apt.conf.d/99cleancut-valid-until"
  local from=()
  if [ "$extra" = experimental ]; then
    echo "deb http://deb.debian.org/debian experimental main" > "$dir/etc/apt/sources.list.d/experimental.list"
    from=(-t experimental)
  fi
  log "installing $packages in the $suite${extra:+ + $extra} chroot $dir"
  chroot "$dir" apt-get update -qq
  chroot "$dir" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${from[@]}" $packages >/dev/null
  chroot "$dir" apt-get clean
  touch "$dir/.cleancut-ready"
}

# engine_wheels DIR PYVER: the engine's dependencies (pyproject.toml's list, so a new one reaches
# the chroots' engines too) as wheels for the chroot's Python PYVER (3.13, 3.14: tomli's marker
# for 3.10 never applies). Redone when that list changes.
engine_wheels() {
  local site=$1 pyver=$2 deps stamp
  deps=$("$PY" -c 'import tomllib; print(" ".join(d for d in tomllib.load(open("'"$repo"'/pyproject.toml", "rb"))["project"]["dependencies"] if ";" not in d))')
  stamp="$site/.ready-$(printf '%s' "$deps" | sha256sum | cut -c1-12)"
  [ -e "$stamp" ] && return 0
  log "engine wheels for Python $pyver into $site: $deps"
  rm -rf "$site"
  # shellcheck disable=SC2086  # one word per requirement
  "$PY" -m pip install --quiet --disable-pip-version-check --target "$site" \
    --python-version "$pyver" --only-binary=:all: --platform manylinux_2_28_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 $deps
  touch "$site/.ready" "$stamp"
}

# bpy_wheel DIR VERSION [PYVER]: the PyPI bpy wheel VERSION into DIR/VERSION, for this venv's
# Python or (PYVER) for another Python's version, as engine_wheels does.
bpy_wheel() {
  local dir=$1/$2 version=$2 pyver=${3:-}
  [ -e "$dir/.ready" ] && return 0
  log "Blender $version as the PyPI bpy wheel into $dir${pyver:+ (Python $pyver)}"
  rm -rf "$dir"
  local cross=()
  # pip checks Requires-Python against its own interpreter even with --python-version; the wheel
  # tags (cpPYVER, manylinux) already pick the files for PYVER
  [ -n "$pyver" ] && cross=(--python-version "$pyver" --only-binary=:all: --platform manylinux_2_28_x86_64
                            --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64
                            --ignore-requires-python)
  "$PY" -m pip install --quiet --disable-pip-version-check --target "$dir" "${cross[@]}" "bpy==$version"
  touch "$dir/.ready"
}

make_chroot "$TRIXIE" trixie "$EDITORS"
engine_wheels "$TRIXIE/opt/site313" 3.13
make_chroot "$SID" sid "$EDITORS"
engine_wheels "$SID/opt/site314" 3.14
make_chroot "$KRITA6" sid "$KRITA6_PACKAGES" experimental
engine_wheels "$KRITA6/opt/site314" 3.14

for version in $BPY_VERSIONS; do
  bpy_wheel "$BPY" "$version"
done
for version in $BPY313_VERSIONS; do  # inside the trixie chroot: its python3.13 runs them
  bpy_wheel "$BPY313_DIR" "$version" 3.13
done
log "hosts ready (chroots: $TRIXIE $SID $KRITA6; bpy: $BPY $BPY313_DIR)"
