#!/usr/bin/env bash
# Builds the Debian package: deploy/package.sh [--build-dir DIR] [--out DIR]
# A RelWithDebInfo build of the gateway alone (no tests), man pages from --help, then CPack:
# kakehashi_<version>_<arch>.deb (stripped) and kakehashi-dbgsym_<version>_<arch>.ddeb (its
# debug information). Install with `apt install ./kakehashi_*.deb`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

build_dir="$KAKEHASHI_ROOT/build/package"
out_dir="$KAKEHASHI_ROOT/build"
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir="$2"; shift 2 ;;
    --out) out_dir="$2"; shift 2 ;;
    -h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "package.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

kakehashi_install_packages
kakehashi_build "$build_dir" RelWithDebInfo -DKAKEHASHI_BUILD_TESTS=OFF \
  -DKAKEHASHI_BUILD_BENCH=OFF -DKAKEHASHI_MANPAGES=ON
rm -f "$build_dir"/kakehashi_*.deb "$build_dir"/kakehashi-dbgsym_*.ddeb
(cd "$build_dir" && cpack -G DEB)
mkdir -p "$out_dir"
for f in "$build_dir"/kakehashi_*.deb "$build_dir"/kakehashi-dbgsym_*.ddeb; do
  [ -e "$f" ] || { echo "package.sh: cpack made no $(basename "$f")" >&2; exit 1; }
  [ "$(dirname "$f")" -ef "$out_dir" ] || cp "$f" "$out_dir/"
  echo "$out_dir/$(basename "$f")"
done
