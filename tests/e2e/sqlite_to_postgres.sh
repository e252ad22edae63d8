#!/usr/bin/env bash
# The move from one machine to PostgreSQL (issue 19): the gateway relays on SQLite; mid-run it
# stops with units still in flight (payloads sealed in the store), `kakehashi store copy` moves
# every table into PostgreSQL and checks it (rows and digest per table, the audit chain verified
# on the target with the same head), and two instances carry on from the PostgreSQL store.
# kakehashi-month then proves every unit arrived exactly once and the report balances. Run it
# inside pg_virtualenv (it uses the PG* environment), e.g.
#   pg_virtualenv bash sqlite_to_postgres.sh --work DIR --bin-gateway F --bin-national F \
#     --bin-regional F --bin-month F [--units 300] [--pki DIR] [--deadline SECONDS]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
WORK="" PKI="" UNITS=300 DEADLINE=300
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
  echo "sqlite_to_postgres.sh needs a PostgreSQL in the PG* environment (run it under pg_virtualenv)" >&2
  exit 2
fi
PKI="${PKI:-$(dirname "$WORK")/pki}"
trap e2e_cleanup EXIT
e2e_prepare "$WORK" "$PKI"
e2e_start_standins "$WORK" "$PKI"
e2e_write_config "$WORK" "$PKI"
psql -q -c 'DROP SCHEMA public CASCADE; CREATE SCHEMA public;' >/dev/null
STORE="$WORK/kakehashi.sqlite"
for name in a b; do
  sed -e 's|"store": {[^}]*}|"store": {"type": "postgres", "dsn": ""}|' \
    -e "s|\"instance\": \"[^\"]*\"|\"instance\": \"gw-$name\"|" "$WORK/kakehashi.json" \
    >"$WORK/kakehashi-$name.json"
  "$BIN_GATEWAY" config check "$WORK/kakehashi-$name.json" >/dev/null
done
e2e_start_gateway "$WORK"
echo "== SQLite to PostgreSQL: $UNITS units both ways; the SQLite gateway stops mid-run"
# The player's closing `relay report` reads the PostgreSQL store the run ends on.
"$BIN_MONTH" --national-port "$NATIONAL_PORT" --regional-port "$REGIONAL_PORT" --pki "$PKI" \
  --config "$WORK/kakehashi-b.json" --kakehashi "$BIN_GATEWAY" --regional-state "$WORK/regional.sqlite" \
  --scenario load --units "$UNITS" --deadline "$DEADLINE" &
PLAYER_PID=$!
E2E_PIDS+=("$PLAYER_PID")
count() { sqlite3 "$STORE" "$1" 2>/dev/null || echo 0; }
for i in $(seq 1 $((DEADLINE * 10))); do
  [ "$(count 'SELECT count(*) FROM kh_transfers')" -ge $((UNITS / 3)) ] && break
  kill -0 "$PLAYER_PID" 2>/dev/null || { echo "the player ended early"; exit 1; }
  sleep 0.1
done
e2e_stop "$GATEWAY_PID" 60 || { echo "gateway exited with an error after SIGTERM"; exit 1; }
echo "-- SQLite store at the stop: $(count 'SELECT count(*) FROM kh_transfers') transfers," \
  "$(count "SELECT count(*) FROM kh_transfers WHERE state = 'accepted'") in flight," \
  "$(count 'SELECT count(*) FROM kh_events') audit records," \
  "$(count 'SELECT count(*) FROM kh_audit_checkpoints') checkpoints," \
  "$(count 'SELECT count(*) FROM kh_registry_entry') registry entries"

"$BIN_GATEWAY" store copy --from "$WORK/kakehashi.json" --to "$WORK/kakehashi-a.json" | tee "$WORK/copy.out"
grep -q 'same as the source' "$WORK/copy.out" || { echo "the copy did not check the audit head"; exit 1; }
"$BIN_GATEWAY" audit verify --config "$WORK/kakehashi-a.json"
# A second copy into the now non-empty target is refused.
if "$BIN_GATEWAY" store copy --from "$WORK/kakehashi.json" --to "$WORK/kakehashi-b.json" 2>"$WORK/again.err"; then
  echo "a copy into a non-empty store was not refused"; exit 1
fi
grep -q 'not empty' "$WORK/again.err" || { cat "$WORK/again.err"; exit 1; }
sealed="$(psql -qtA -c "SELECT count(*) FROM kh_transfers WHERE payload IS NOT NULL")"
echo "-- PostgreSQL holds $sealed transfers with their sealed payloads"
[ "$sealed" -gt 0 ] || { echo "no sealed payloads moved"; exit 1; }

"$BIN_GATEWAY" run --config "$WORK/kakehashi-a.json" >>"$WORK/gateway-a.out" 2>>"$WORK/gateway-a.log" &
PID_A=$!
E2E_PIDS+=("$PID_A")
"$BIN_GATEWAY" run --config "$WORK/kakehashi-b.json" >>"$WORK/gateway-b.out" 2>>"$WORK/gateway-b.log" &
PID_B=$!
E2E_PIDS+=("$PID_B")
set +e
wait "$PLAYER_PID"
rc=$?
set -e
e2e_stop "$PID_A" 60 || { echo "gw-a exited with an error after SIGTERM"; rc=1; }
e2e_stop "$PID_B" 60 || { echo "gw-b exited with an error after SIGTERM"; rc=1; }
echo "-- deliveries per instance on PostgreSQL:"
psql -qtA -F ' ' -c "SELECT actor, count(*) FROM kh_events WHERE kind = 'delivered' GROUP BY actor ORDER BY actor" || true
"$BIN_GATEWAY" audit verify --config "$WORK/kakehashi-a.json" || rc=1
"$BIN_GATEWAY" relay report --config "$WORK/kakehashi-b.json" || rc=1
# And back out: a backup of the PostgreSQL store is a SQLite store file that verifies offline.
"$BIN_GATEWAY" store backup --config "$WORK/kakehashi-a.json" --to "$WORK/pg-backup.sqlite" || rc=1
"$BIN_GATEWAY" audit verify --store "$WORK/pg-backup.sqlite" --cert "$PKI/gateway/proxy-rsa.cert.pem" || rc=1
if [ "$rc" -ne 0 ]; then tail -n 20 "$WORK/gateway.log" "$WORK/gateway-a.log" "$WORK/gateway-b.log" || true; fi
exit "$rc"
