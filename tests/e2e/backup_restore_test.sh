#!/usr/bin/env bash
# Backup and restore while running (issue 19): units flow both ways through the gateway on
# SQLite; `kakehashi store backup` copies the live store meanwhile; more units are accepted; the
# gateway stops, its store is replaced by `kakehashi store restore` of the backup (a second
# restore into the now non-empty store is refused), `audit verify` is intact, and the gateway
# starts again from where the backup was. The networks offer again what came after the backup:
# every unit accepted before the stop is accepted again or recognised as a duplicate, and
# kakehashi-month proves from the stand-ins' logs that every unit arrived exactly once.
#   backup_restore_test.sh --work DIR --bin-gateway F --bin-national F --bin-regional F
#                          --bin-month F [--units 300] [--pki DIR] [--deadline SECONDS]
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
PKI="${PKI:-$(dirname "$WORK")/pki}"
trap e2e_cleanup EXIT
e2e_prepare "$WORK" "$PKI"
e2e_start_standins "$WORK" "$PKI"
e2e_write_config "$WORK" "$PKI"
CONFIG="$WORK/kakehashi.json"
STORE="$WORK/kakehashi.sqlite"
e2e_start_gateway "$WORK"

transfers() { sqlite3 "$1" 'SELECT count(*) FROM kh_transfers' 2>/dev/null || echo 0; }
# wait_transfers N: until the live store holds at least N transfers (deadline-bounded).
wait_transfers() {
  local i
  for i in $(seq 1 $((DEADLINE * 10))); do
    [ "$(transfers "$STORE")" -ge "$1" ] && return 0
    kill -0 "$PLAYER_PID" 2>/dev/null || { cat "$WORK/player.out"; echo "the player ended before $1 transfers"; return 1; }
    sleep 0.1
  done
  echo "fewer than $1 transfers after ${DEADLINE}s"
  return 1
}

echo "== backup/restore: $UNITS units both ways (work $WORK)"
"$BIN_MONTH" --national-port "$NATIONAL_PORT" --regional-port "$REGIONAL_PORT" --pki "$PKI" \
  --config "$CONFIG" --kakehashi "$BIN_GATEWAY" --regional-state "$WORK/regional.sqlite" \
  --scenario load --units "$UNITS" --deadline "$DEADLINE" >"$WORK/player.out" 2>&1 &
PLAYER_PID=$!
E2E_PIDS+=("$PLAYER_PID")

wait_transfers $((UNITS / 4))
"$BIN_GATEWAY" store backup --config "$CONFIG" --to "$WORK/backup.sqlite"
kill -0 "$GATEWAY_PID" || { echo "the gateway stopped during the backup"; exit 1; }
in_backup="$(transfers "$WORK/backup.sqlite")"
# Units the backup does not hold, accepted (and many relayed) before the gateway stops.
wait_transfers $((in_backup + 20))
e2e_stop "$GATEWAY_PID" 60 || { echo "gateway exited with an error after SIGTERM"; exit 1; }
mkdir -p "$WORK/before-restore"
mv "$STORE"* "$WORK/before-restore/"
before="$WORK/before-restore/kakehashi.sqlite"
echo "-- backup holds $in_backup transfers; the gateway stopped with $(transfers "$before")"

"$BIN_GATEWAY" store restore --config "$CONFIG" --from "$WORK/backup.sqlite"
set +e
"$BIN_GATEWAY" store restore --config "$CONFIG" --from "$WORK/backup.sqlite" 2>"$WORK/again.err"
again=$?
set -e
cat "$WORK/again.err"
[ "$again" -eq 1 ] && grep -q 'not empty' "$WORK/again.err" ||
  { echo "a restore into a non-empty store was not refused (exit $again)"; exit 1; }
[ "$(transfers "$STORE")" -eq "$in_backup" ] || { echo "the restored store differs from the backup"; exit 1; }
"$BIN_GATEWAY" audit verify --config "$CONFIG"

e2e_start_gateway "$WORK"
set +e
wait "$PLAYER_PID"
rc=$?
set -e
cat "$WORK/player.out"
# A unit the gateway relayed to the national network after the backup is relayed again from the
# restored store with a new proxy co-signature (the sealed first translation is not in the
# backup): the network's 409 idempotency_conflict names the first transmission and the adapter
# takes it as that acceptance (adapters/national/PROTOCOL.md §13). The player's checks must all
# hold: nothing lost, nothing twice, no sender told of a refusal.
e2e_stop "$GATEWAY_PID" 60 || { echo "gateway exited with an error after SIGTERM"; rc=1; }
"$BIN_GATEWAY" audit verify --config "$CONFIG" || rc=1
# Every item accepted before the stop, the backup's and the later ones, is in the restored store
# again: offered again by its network and accepted, or matched as a duplicate.
missing="$(sqlite3 "$STORE" "ATTACH '$before' AS b;
  SELECT count(*) FROM b.kh_transfers o WHERE NOT EXISTS (SELECT 1 FROM main.kh_transfers t
    WHERE t.source_adapter = o.source_adapter AND t.source_id = o.source_id)")"
after_backup="$(sqlite3 "$STORE" "ATTACH '$WORK/backup.sqlite' AS k;
  SELECT count(*) FROM main.kh_transfers t WHERE NOT EXISTS (SELECT 1 FROM k.kh_transfers o
    WHERE t.source_adapter = o.source_adapter AND t.source_id = o.source_id)")"
echo "-- after the restore: $after_backup units accepted that the backup did not hold; $missing accepted before the stop and not again"
[ "$missing" -eq 0 ] || rc=1
"$BIN_GATEWAY" relay report --config "$CONFIG" || rc=1
if [ "$rc" -ne 0 ]; then tail -n 20 "$WORK/gateway.log" || true; fi
exit "$rc"
