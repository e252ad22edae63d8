#!/usr/bin/env bash
# Peer outage (issue 5, "What must be true"): while national offices keep sending to regional
# partners, the regional network is down (its stand-in stopped with SIGKILL: connections refused)
# for --seconds; afterwards the gateway's backlog must drain by itself, each pair in order, each
# unit exactly once, every receipt back, and `kakehashi relay report` balanced.
#   outage_test.sh --work DIR --bin-gateway F --bin-national F --bin-regional F --bin-month F
#                  [--seconds 30] [--pki DIR] [--deadline SECONDS]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
WORK="" PKI="" SECONDS_DOWN=30 DEADLINE=300
while [ $# -gt 0 ]; do
  case "$1" in
    --work) WORK="$2" ;; --pki) PKI="$2" ;; --seconds) SECONDS_DOWN="$2" ;; --deadline) DEADLINE="$2" ;;
    --bin-gateway) BIN_GATEWAY="$2" ;; --bin-national) BIN_NATIONAL="$2" ;;
    --bin-regional) BIN_REGIONAL="$2" ;; --bin-month) BIN_MONTH="$2" ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
PKI="${PKI:-$(dirname "$WORK")/pki}"
stop_restarted() {
  if [ -f "$WORK/regional.pid" ]; then kill -TERM "$(cat "$WORK/regional.pid")" 2>/dev/null || true; fi
  e2e_cleanup
}
trap stop_restarted EXIT
e2e_prepare "$WORK" "$PKI"
e2e_start_standins "$WORK" "$PKI"
e2e_write_config "$WORK" "$PKI"
e2e_start_gateway "$WORK"
# The player calls these: down kills the regional stand-in, up starts it again on the same port
# with the same state (what a network coming back after an outage looks like to the gateway).
cat >"$WORK/regional-down.sh" <<DOWN
#!/usr/bin/env bash
pid=\$(cat "$WORK/regional.pid" 2>/dev/null || echo $REGIONAL_PID)
kill -KILL "\$pid" 2>/dev/null || true
while kill -0 "\$pid" 2>/dev/null; do sleep 0.05; done
DOWN
cat >"$WORK/regional-up.sh" <<UP
#!/usr/bin/env bash
set -e
: >"$WORK/regional-2.out"
"$BIN_REGIONAL" --pki "$PKI" --state "$WORK/regional.sqlite" --port "$REGIONAL_PORT" \
  >"$WORK/regional-2.out" 2>>"$WORK/regional.log" </dev/null &
echo \$! >"$WORK/regional.pid"
for i in \$(seq 1 300); do grep -q '^port=' "$WORK/regional-2.out" && exit 0; sleep 0.1; done
echo "the regional stand-in did not come back" >&2
exit 1
UP
chmod +x "$WORK/regional-down.sh" "$WORK/regional-up.sh"
set +e
"$BIN_MONTH" --national-port "$NATIONAL_PORT" --regional-port "$REGIONAL_PORT" --pki "$PKI" \
  --config "$WORK/kakehashi.json" --kakehashi "$BIN_GATEWAY" --regional-state "$WORK/regional.sqlite" \
  --scenario outage --outage-seconds "$SECONDS_DOWN" --deadline "$DEADLINE" \
  --outage-down "$WORK/regional-down.sh" --outage-up "$WORK/regional-up.sh"
rc=$?
set -e
e2e_stop "$GATEWAY_PID" 60 || { echo "gateway exited with an error after SIGTERM"; rc=1; }
if [ "$rc" -ne 0 ]; then tail -n 20 "$WORK/gateway.log" || true; fi
exit "$rc"
