#!/usr/bin/env bash
# Crash test (issue 5, "What must be true"): N units both ways through the gateway while it is
# killed with SIGKILL at random moments K times and restarted; afterwards kakehashi-month checks
# the stand-ins' delivery logs (every unit delivered exactly once, every receipt back) and that
# `kakehashi relay report` balances with nothing in flight.
#   crash_test.sh --work DIR --bin-gateway F --bin-national F --bin-regional F --bin-month F
#                 [--units 5000] [--kills 20] [--pki DIR] [--deadline SECONDS] [--seed N]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
WORK="" PKI="" UNITS=5000 KILLS=20 DEADLINE=600 SEED=$RANDOM
while [ $# -gt 0 ]; do
  case "$1" in
    --work) WORK="$2" ;; --pki) PKI="$2" ;; --units) UNITS="$2" ;; --kills) KILLS="$2" ;;
    --deadline) DEADLINE="$2" ;; --seed) SEED="$2" ;;
    --bin-gateway) BIN_GATEWAY="$2" ;; --bin-national) BIN_NATIONAL="$2" ;;
    --bin-regional) BIN_REGIONAL="$2" ;; --bin-month) BIN_MONTH="$2" ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
PKI="${PKI:-$(dirname "$WORK")/pki}"
RANDOM=$SEED
trap e2e_cleanup EXIT
e2e_prepare "$WORK" "$PKI"
e2e_start_standins "$WORK" "$PKI"
e2e_write_config "$WORK" "$PKI"
# A killed instance's leases must expire before its work is taken up again: keep that short here.
sed -i 's/"lease": "30s"/"lease": "5s"/' "$WORK/kakehashi.json"
e2e_start_gateway "$WORK"
echo "== crash test: $UNITS units both ways, $KILLS SIGKILLs of the gateway (seed $SEED, work $WORK)"
"$BIN_MONTH" --national-port "$NATIONAL_PORT" --regional-port "$REGIONAL_PORT" --pki "$PKI" \
  --config "$WORK/kakehashi.json" --kakehashi "$BIN_GATEWAY" --regional-state "$WORK/regional.sqlite" \
  --scenario load --units "$UNITS" --deadline "$DEADLINE" --seed "$SEED" &
PLAYER_PID=$!
E2E_PIDS+=("$PLAYER_PID")
# Random moments: 0.3-2.5 s apart for short runs, spread over the expected run time for long ones.
spread=$(( UNITS / KILLS / 20 + 3 ))
for k in $(seq 1 "$KILLS"); do
  ms=$(( 300 + RANDOM % (spread * 700) ))
  sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
  kill -KILL "$GATEWAY_PID" 2>/dev/null || true
  wait "$GATEWAY_PID" 2>/dev/null || true
  echo "  .. SIGKILL $k/$KILLS after ${ms} ms; restarting the gateway"
  e2e_start_gateway "$WORK"
done
set +e
wait "$PLAYER_PID"
rc=$?
set -e
# The player may finish before the last kill: let the gateway started last come up (its
# engine-started record) before asking it to stop, or SIGTERM can reach the forked shell before
# it has become the gateway.
for i in $(seq 1 300); do
  [ "$(grep -c '"event":"engine-started"' "$WORK/gateway.log")" -ge $((KILLS + 1)) ] && break
  sleep 0.1
done
e2e_stop "$GATEWAY_PID" 60 || { echo "gateway exited with an error after SIGTERM"; rc=1; }
echo "-- kakehashi relay report after $KILLS kills:"
"$BIN_GATEWAY" relay report --config "$WORK/kakehashi.json" || rc=1
if [ "$rc" -ne 0 ]; then tail -n 20 "$WORK/gateway.log" || true; fi
exit "$rc"
