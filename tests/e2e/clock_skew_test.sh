#!/usr/bin/env bash
# Clock skew (issue 8, fault injection): the gateway's clock runs ahead of the networks' (libfaketime
# preloaded into `kakehashi run` with FAKETIME=+5m), then behind them (the same in both stand-ins: a
# gateway whose clock is behind real time would rightly refuse certificates issued minutes ago,
# which is what a fresh test PKI is). Sessions, cursors, timestamps, retries and leases must
# tolerate a few minutes of skew: every unit delivered exactly once, every receipt back, the relay
# report balanced.
#   clock_skew_test.sh --work DIR --bin-gateway F --bin-national F --bin-regional F --bin-month F
#                      [--skew 5m] [--units 100] [--pki DIR] [--deadline SECONDS]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
WORK="" PKI="" SKEW=5m UNITS=100 DEADLINE=300
while [ $# -gt 0 ]; do
  case "$1" in
    --work) WORK="$2" ;; --pki) PKI="$2" ;; --skew) SKEW="$2" ;; --units) UNITS="$2" ;;
    --deadline) DEADLINE="$2" ;;
    --bin-gateway) BIN_GATEWAY="$2" ;; --bin-national) BIN_NATIONAL="$2" ;;
    --bin-regional) BIN_REGIONAL="$2" ;; --bin-month) BIN_MONTH="$2" ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
# libfaketime preloaded directly (not through the faketime program, which forks: a signal to it
# would not reach the gateway). The multi-threaded variant, as the gateway has threads.
LIBFAKETIME=""
for f in /usr/lib/*/faketime/libfaketimeMT.so.1 /usr/lib/faketime/libfaketimeMT.so.1; do
  [ -f "$f" ] && LIBFAKETIME="$f" && break
done
[ -n "$LIBFAKETIME" ] || { echo "clock_skew_test.sh needs libfaketime (Debian package faketime)" >&2; exit 2; }
PKI="${PKI:-$(dirname "$WORK")/pki}"
# libfaketime is an LD_PRELOAD library; under AddressSanitizer builds (the test command's) ASan
# must be told not to insist on being first in the library list.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
rc=0
for offset in "+$SKEW" "-$SKEW"; do
  echo "==== the gateway's clock at $offset from the networks'"
  run="$WORK/skew$offset"
  gateway_wrap=(env LD_PRELOAD="$LIBFAKETIME" FAKETIME="$offset")
  E2E_STANDIN_WRAP=""
  if [ "${offset:0:1}" = "-" ]; then
    gateway_wrap=()
    E2E_STANDIN_WRAP="env LD_PRELOAD=$LIBFAKETIME FAKETIME=+$SKEW"
  fi
  E2E_PIDS=()
  trap e2e_cleanup EXIT
  e2e_prepare "$run" "$PKI"
  e2e_start_standins "$run" "$PKI"
  e2e_write_config "$run" "$PKI"
  FAKETIME_DONT_FAKE_MONOTONIC=1 "${gateway_wrap[@]}" "$BIN_GATEWAY" run --config "$run/kakehashi.json" \
    >>"$run/gateway.out" 2>>"$run/gateway.log" &
  GATEWAY_PID=$!
  E2E_PIDS+=("$GATEWAY_PID")
  set +e
  "$BIN_MONTH" --national-port "$NATIONAL_PORT" --regional-port "$REGIONAL_PORT" --pki "$PKI" \
    --config "$run/kakehashi.json" --kakehashi "$BIN_GATEWAY" --regional-state "$run/regional.sqlite" \
    --scenario load --units "$UNITS" --deadline "$DEADLINE"
  r=$?
  set -e
  e2e_stop "$GATEWAY_PID" 60 || { echo "gateway exited with an error after SIGTERM"; r=1; }
  if [ "$r" -ne 0 ]; then tail -n 20 "$run/gateway.log" || true; rc=1; fi
  e2e_cleanup
  E2E_STANDIN_WRAP=""
done
exit "$rc"
