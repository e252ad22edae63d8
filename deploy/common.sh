#!/usr/bin/env bash
# Shared by quickstart.sh and test.sh: install the Debian packages Kakehashi needs (only when
# something is missing, so a second run is fast) and configure + build one CMake tree.
set -euo pipefail

KAKEHASHI_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export KAKEHASHI_ROOT

KAKEHASHI_PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache
  libpoco-dev libboost-dev libboost-test-dev rapidjson-dev
  libsqlite3-dev sqlite3 libssl-dev openssl libpq-dev postgresql postgresql-common
  gpgsm gpg-agent ca-certificates faketime
  lintian help2man prometheus
  chromium fonts-ipafont-gothic nodejs
)
# npm: Debian's package, unless the installed nodejs bundles its own (NodeSource's conflicts with it).
command -v npm >/dev/null 2>&1 || KAKEHASHI_PACKAGES+=(npm)

kakehashi_install_packages() {
  local missing=()
  for p in "${KAKEHASHI_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$p")
    fi
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    return 0
  fi
  echo "== installing: ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# kakehashi_build DIR BUILD_TYPE [extra cmake args...]
kakehashi_build() {
  local dir="$1" type="$2"
  shift 2
  local launcher=()
  if command -v ccache >/dev/null 2>&1; then
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  fi
  if [ ! -f "$dir/build.ninja" ]; then
    cmake -S "$KAKEHASHI_ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" "${launcher[@]}" "$@"
  fi
  cmake --build "$dir" --parallel "$(nproc)"
}
