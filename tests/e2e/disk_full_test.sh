#!/usr/bin/env bash
# Disk full on the store (issue 8, fault injection): the gateway runs with a file-size limit
# (RLIMIT_FSIZE, SIGXFSZ ignored), so once its SQLite files reach it every write fails with EFBIG,
# which SQLite reports as "database or disk is full", exactly as on a full filesystem. Units keep
# coming meanwhile. The gateway must not acknowledge what it could not commit (the networks keep
# offering it) and must not lose or duplicate anything; after "space is freed" (the gateway
# restarted without the limit) everything drains: every unit exactly once, every receipt back,
# the relay report balanced.
#   disk_full_test.sh --work DIR --bin-gateway F --bin-national F --bin-regional F --bin-month F
#                     [--units 300] [--limit-kib 2048] [--pki DIR] [--deadline SECONDS]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
WORK="" PKI="" UNITS=300 LIMIT_KIB=2048 DEADLINE=400
while [ $# -gt 0 ]; do
  case "$1" in
    --work) WORK="$2" ;; --pki) PKI="$2" ;; --units) UNITS="$2" ;; --deadline) DEADLINE="$2" ;;
    --limit-kib) LIMIT_KIB="$2" ;;
    --bin-gateway) BIN_GATEWAY="$2" ;; --bin-national) BIN_NATIONAL="$2" ;;
    --bin-regional) BIN_REGIONAL="$2" ;; --bin-month) BIN_MONTH="$2" ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
PKI="${PKI:-$(dirname "$WORK")/pki}"
trap e2e_cleanup EXIT
e2e_prepare "$WORK" "$PKI"
e2e_start_standins "$WORK" "$PKI"
e2e_write_config "$WORK" "$PKI"
(trap '' XFSZ; ulimit -f "$LIMIT_KIB"; exec "$BIN_GATEWAY" run --config "$WORK/kakehashi.json") \
  >>"$WORK/gateway.out" 2>>"$WORK/gateway.log" &
GATEWAY_PID=$!
E2E_PIDS+=("$GATEWAY_PID")
echo "== disk full: $UNITS units both ways; the store's files may not grow beyond $LIMIT_KIB KiB"
"$BIN_MONTH" --national-port "$NATIONAL_PORT" --regional-port "$REGIONAL_PORT" --pki "$PKI" \
  --config "$WORK/kakehashi.json" --kakehashi "$BIN_GATEWAY" --regional-state "$WORK/regional.sqlite" \
  --scenario load --units "$UNITS" --deadline "$DEADLINE" &
PLAYER_PID=$!
E2E_PIDS+=("$PLAYER_PID")
# Wait for the store to fail its writes (the event, not a guess at timing). SQLite names EFBIG
# "database or disk is full" or, when a WAL write is cut, "disk I/O error".
FULL_RE='"level":"error".*(disk is full|disk I/O error)'
full=0
for i in $(seq 1 $((DEADLINE * 10))); do
  if grep -Eq "$FULL_RE" "$WORK/gateway.log" 2>/dev/null; then full=1; break; fi
  kill -0 "$PLAYER_PID" 2>/dev/null || break
  sleep 0.1
done
if [ "$full" = 1 ]; then
  # Let it run full for a while (units keep coming): nothing may be acknowledged that was not
  # committed. This wait is the length of the fault, not a synchronisation.
  sleep 5
  echo "  .. the store is full: $(grep -Ec "$FULL_RE" "$WORK/gateway.log") failed writes logged; the gateway kept running: $(kill -0 "$GATEWAY_PID" 2>/dev/null && echo yes || echo no)"
  echo "  .. space freed: restarting the gateway without the limit"
  e2e_stop "$GATEWAY_PID" 30 || true
  e2e_start_gateway "$WORK"
else
  echo "  !! the store never reported full (raise --units or lower --limit-kib)"
fi
set +e
wait "$PLAYER_PID"
rc=$?
set -e
[ "$full" = 1 ] || rc=1
e2e_stop "$GATEWAY_PID" 60 || { echo "gateway exited with an error after SIGTERM"; rc=1; }
if [ "$rc" -ne 0 ]; then tail -n 20 "$WORK/gateway.log" || true; fi
exit "$rc"
