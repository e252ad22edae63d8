#!/usr/bin/env bash
# Installs the Debian package on a fresh Debian 12 machine and starts it with systemctl:
#   deploy/systemd/nspawn_check.sh --deb kakehashi_<version>_<arch>.deb --build BUILD_DIR [--base DIR]
# The machine is a debootstrap root (kept in --base and copied fresh for every run) booted with
# systemd-nspawn; it shares the host's loopback, where the national and regional stand-ins of
# BUILD_DIR (a build with tests, e.g. build/release from deploy/quickstart.sh) run. In the booted
# machine: `apt install ./kakehashi_*.deb`, a config and PKI under /etc/kakehashi,
# `systemctl enable --now kakehashi`; the month player then plays the quickstart's month through
# the installed service, `systemctl stop` drains it, and `kakehashi relay report` and
# `kakehashi audit verify` run inside the machine as the kakehashi user. Needs root, debootstrap
# and systemd-container (installed here if missing) and Debian's package registry. Not part of the
# default test suite (it downloads a Debian base system); the package's contents are checked
# there by deploy_debian_package.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

deb="" build="" base="${TMPDIR:-/tmp}/kakehashi-nspawn-base"
while [ $# -gt 0 ]; do
  case "$1" in
    --deb) deb="$(realpath "$2")"; shift 2 ;;
    --build) build="$(realpath "$2")"; shift 2 ;;
    --base) base="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "nspawn_check.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -f "$deb" ] || { echo "nspawn_check.sh: --deb FILE is required (deploy/package.sh makes it)" >&2; exit 2; }
[ -x "$build/tests/e2e/kakehashi-month" ] || {
  echo "nspawn_check.sh: --build must hold the stand-ins and the month player (a build with tests)" >&2; exit 2; }

step() { echo; echo "== $*"; }
if ! command -v debootstrap >/dev/null || ! command -v systemd-nspawn >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap systemd-container >/dev/null
fi
if [ ! -x "$base/usr/lib/systemd/systemd" ]; then
  step "debootstrap bookworm into $base (once; later runs copy it)"
  debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,ca-certificates bookworm \
    "$base" http://deb.debian.org/debian >/dev/null
fi

BIN_GATEWAY="$build/gateway/kakehashi"
BIN_NATIONAL="$build/tests/peers/national/kakehashi-national-standin"
BIN_REGIONAL="$build/tests/peers/regional/kakehashi-regional-standin"
BIN_MONTH="$build/tests/e2e/kakehashi-month"
# shellcheck source=../../tests/e2e/e2e_lib.sh
source "$ROOT/tests/e2e/e2e_lib.sh"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/kakehashi-nspawn.XXXXXX")"
machine="$scratch/machine"
NSPAWN_PID=""
finish() {
  local rc=$?
  if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
    [ -n "${INIT_PID:-}" ] && nsenter -t "$INIT_PID" -a systemctl poweroff >/dev/null 2>&1 || true
    for _ in $(seq 1 300); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$NSPAWN_PID" 2>/dev/null || true
  fi
  e2e_cleanup
  umount "$machine/proc" 2>/dev/null || true
  [ "$rc" = 0 ] && rm -rf "$scratch" || echo "nspawn_check.sh: failed; the machine is kept in $machine" >&2
}
trap finish EXIT

step "a fresh Debian 12 machine in $machine"
cp -a "$base" "$machine"
echo kakehashi-check >"$machine/etc/hostname"

step "apt install ./$(basename "$deb")"
cp "$deb" "$machine/tmp/"
mount -t proc proc "$machine/proc"
chroot "$machine" env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
chroot "$machine" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "/tmp/$(basename "$deb")" \
  | grep -E "^(Setting up kakehashi|Unpacking kakehashi)" || true
umount "$machine/proc"
chroot "$machine" id kakehashi
chroot "$machine" dpkg -s kakehashi | grep -E "^(Status|Version):"

step "stand-ins on the host's loopback; PKI and config into /etc/kakehashi"
work="$scratch/host"
pki="$scratch/pki"
e2e_prepare "$work" "$pki"
e2e_start_standins "$work" "$pki"
echo "   national stand-in on 127.0.0.1:$NATIONAL_PORT, regional stand-in on 127.0.0.1:$REGIONAL_PORT"
cp -a "$pki" "$machine/etc/kakehashi/pki"
# The state the quickstart keeps beside its store (payload key, the proxy login's password).
for f in "$work"/*.key "$work"/*.password; do [ -e "$f" ] && cp "$f" "$machine/var/lib/kakehashi/"; done
sed -e "s|@PKI@|/etc/kakehashi/pki|g" -e "s|@RUN@|/var/lib/kakehashi|g" \
  -e "s|@NATIONAL_PORT@|$NATIONAL_PORT|g" -e "s|@REGIONAL_PORT@|$REGIONAL_PORT|g" \
  "$ROOT/config/kakehashi.example.json" >"$machine/etc/kakehashi/kakehashi.json"
# The config is root's, readable by the service; keys and tokens are the service user's, 0600
# (the gateway refuses a private key or token file that group or others can read).
chroot "$machine" chown root:kakehashi /etc/kakehashi /etc/kakehashi/kakehashi.json
chroot "$machine" chmod 0750 /etc/kakehashi
chroot "$machine" chmod 0640 /etc/kakehashi/kakehashi.json
chroot "$machine" chown -R kakehashi:kakehashi /etc/kakehashi/pki
chroot "$machine" chmod -R go-rwx /etc/kakehashi/pki
chroot "$machine" chown -R kakehashi:kakehashi /var/lib/kakehashi
chroot "$machine" chmod -R go-rwx /var/lib/kakehashi
# The host reads the same store and PKI (the month player's checks) through the machine's root.
sed -e "s|@PKI@|$machine/etc/kakehashi/pki|g" -e "s|@RUN@|$machine/var/lib/kakehashi|g" \
  -e "s|@NATIONAL_PORT@|$NATIONAL_PORT|g" -e "s|@REGIONAL_PORT@|$REGIONAL_PORT|g" \
  "$ROOT/config/kakehashi.example.json" >"$work/host-view.json"

step "boot the machine (systemd-nspawn -b) and wait for systemd"
systemd-nspawn --register=no --keep-unit -q -D "$machine" -b --console=pipe \
  >"$scratch/console.log" 2>&1 </dev/null &
NSPAWN_PID=$!
INIT_PID=""
for _ in $(seq 1 600); do
  # The machine's init is systemd-nspawn's child (its root reads "/" from outside: own mounts).
  [ -n "$INIT_PID" ] || INIT_PID="$(pgrep -P "$NSPAWN_PID" -x systemd 2>/dev/null || true)"
  if [ -n "$INIT_PID" ]; then
    state="$(nsenter -t "$INIT_PID" -a systemctl is-system-running 2>/dev/null || true)"
    case "$state" in running|degraded) break ;; esac
  fi
  kill -0 "$NSPAWN_PID" || { cat "$scratch/console.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$INIT_PID" ] || { echo "the machine did not boot" >&2; exit 1; }
in_machine() { nsenter -t "$INIT_PID" -a "$@"; }
echo "   systemd in the machine: $(in_machine systemctl is-system-running || true)"

step "systemctl enable --now kakehashi"
in_machine systemctl enable --now kakehashi
for _ in $(seq 1 300); do
  [ "$(in_machine systemctl is-active kakehashi || true)" = active ] && break
  sleep 0.1
done
in_machine systemctl --no-pager status kakehashi | sed -n '1,6p'
[ "$(in_machine systemctl is-active kakehashi)" = active ]

step "the quickstart's month through the installed service"
"$BIN_MONTH" --national-port "$NATIONAL_PORT" --regional-port "$REGIONAL_PORT" --pki "$pki" \
  --config "$work/host-view.json" --kakehashi "$BIN_GATEWAY" --regional-state "$work/regional.sqlite" \
  --scenario month --deadline 180

step "systemctl stop kakehashi (SIGTERM drains it)"
in_machine systemctl stop kakehashi
in_machine journalctl -u kakehashi --no-pager -o cat | grep -c '"level"' | sed 's/^/   JSON log lines in the journal: /'
result="$(in_machine systemctl show kakehashi -p Result --value)"
echo "   Result=$result"
[ "$result" = success ]

step "report and audit inside the machine, as the kakehashi user"
in_machine runuser -u kakehashi -- kakehashi relay report --config /etc/kakehashi/kakehashi.json | sed 's/^/   /'
in_machine runuser -u kakehashi -- kakehashi audit verify --config /etc/kakehashi/kakehashi.json | sed 's/^/   /'
echo
echo "nspawn_check.sh: installed from $(basename "$deb"), started and stopped with systemctl: OK"
