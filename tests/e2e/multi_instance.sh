#!/usr/bin/env bash
# Two gateway instances on one PostgreSQL (issue 5, "What must be true"): both relay the same
# traffic, both do work, nothing is delivered twice; one is killed with SIGKILL mid-run and never
# restarted, and the other takes over its leases (transfers, notices and inbox polling), so nothing
# is lost. Run it inside pg_virtualenv (it uses the PG* environment), e.g.
#   pg_virtualenv bash multi_instance.sh --work DIR --bin-gateway F --bin-national F \
#     --bin-regional F --bin-month F [--units 400] [--pki DIR] [--deadline SECONDS]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
WORK="" PKI="" UNITS=400 DEADLINE=300
while [ $# -gt 0 ]; do
  case "$1" in
    --work) WORK="$2" ;; --pki) PKI="$2" ;; --units) UNITS="$2" ;; --deadline) DEADLINE="$2" ;;
    --bin-gateway) BIN_GATEWAY="$2" ;; --bin-national) BIN_NATIONAL="$2" ;;
    --bin-regional) BIN_REGIONAL="$2" ;; --bin-month) BIN_MONTH="$2" ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
if [ -z "${PGHOST:-}${PGPORT:-}${PGDATABASE:-}" ]; then
  echo "multi_instance.sh needs a PostgreSQL in the PG* environment (run it under pg_virtualenv)" >&2
  exit 2
fi
PKI="${PKI:-$(dirname "$WORK")/pki}"
trap e2e_cleanup EXIT
e2e_prepare "$WORK" "$PKI"
e2e_start_standins "$WORK" "$PKI"
e2e_write_config "$WORK" "$PKI"
psql -q -c 'DROP SCHEMA public CASCADE; CREATE SCHEMA public;' >/dev/null
# One shared payload key, made before either instance starts (both would otherwise race to create it).
(umask 077; head -c 32 /dev/urandom >"$WORK/payload.key")
for name in a b; do
  sed -e 's|"store": {[^}]*}|"store": {"type": "postgres", "dsn": ""}|' \
    -e "s|\"instance\": \"[^\"]*\"|\"instance\": \"gw-$name\"|" \
    -e 's/"lease": "30s"/"lease": "5s"/' "$WORK/kakehashi.json" >"$WORK/kakehashi-$name.json"
  "$BIN_GATEWAY" config check "$WORK/kakehashi-$name.json" >/dev/null
done
"$BIN_GATEWAY" run --config "$WORK/kakehashi-a.json" >>"$WORK/gateway-a.out" 2>>"$WORK/gateway-a.log" &
PID_A=$!
E2E_PIDS+=("$PID_A")
"$BIN_GATEWAY" run --config "$WORK/kakehashi-b.json" >>"$WORK/gateway-b.out" 2>>"$WORK/gateway-b.log" &
PID_B=$!
E2E_PIDS+=("$PID_B")
echo "== two instances on one PostgreSQL: $UNITS units both ways; gw-a is killed mid-run"
"$BIN_MONTH" --national-port "$NATIONAL_PORT" --regional-port "$REGIONAL_PORT" --pki "$PKI" \
  --config "$WORK/kakehashi-b.json" --kakehashi "$BIN_GATEWAY" --regional-state "$WORK/regional.sqlite" \
  --scenario load --units "$UNITS" --deadline "$DEADLINE" &
PLAYER_PID=$!
E2E_PIDS+=("$PLAYER_PID")
delivered_by() {
  psql -qtA -c "SELECT count(*) FROM kh_events WHERE kind = 'delivered' AND actor = 'gateway:$1'" 2>/dev/null || echo 0
}
# Kill gw-a once both instances have delivered something (the event, not a guess at timing).
for i in $(seq 1 $((DEADLINE * 10))); do
  a=$(delivered_by gw-a) b=$(delivered_by gw-b)
  if [ "${a:-0}" -ge 5 ] && [ "${b:-0}" -ge 5 ]; then break; fi
  if ! kill -0 "$PLAYER_PID" 2>/dev/null; then break; fi
  sleep 0.1
done
echo "  .. before the kill: gw-a delivered $(delivered_by gw-a), gw-b $(delivered_by gw-b); SIGKILL gw-a"
kill -KILL "$PID_A" 2>/dev/null || true
wait "$PID_A" 2>/dev/null || true
set +e
wait "$PLAYER_PID"
rc=$?
set -e
e2e_stop "$PID_B" 60 || { echo "gw-b exited with an error after SIGTERM"; rc=1; }
a=$(delivered_by gw-a) b=$(delivered_by gw-b)
echo "-- deliveries per instance: gw-a $a, gw-b $b"
echo "-- inbound units accepted per instance:"
psql -qtA -F ' ' -c "SELECT actor, count(*) FROM kh_events WHERE kind = 'accepted' GROUP BY actor ORDER BY actor" || true
if [ "$a" -lt 1 ] || [ "$b" -lt 1 ]; then echo "!! both instances must have done work"; rc=1; fi
"$BIN_GATEWAY" relay report --config "$WORK/kakehashi-b.json" || rc=1
if [ "$rc" -ne 0 ]; then tail -n 20 "$WORK/gateway-a.log" "$WORK/gateway-b.log" || true; fi
exit "$rc"
