#!/usr/bin/env bash
# Poison items (issue 14, the fault suite's "poison" scenario at CI size): bad items of every kind
# the stand-ins can serve (national: undecryptable, no_content, no_files; regional: bad_base64,
# base64_newline, missing_field, deep_json, too_many_documents) mixed into a run of good units on
# both networks. The player (--scenario poison) proves every good unit arrived once with its
# receipt, every bad one came back to its sender refused [ITEM_UNREADABLE] with its reason, and
# `kakehashi relay report` balances. Then the national inbox fails poll after poll with the cursor
# put: the admin listener's `inbox-stalled` alert must rise, and clear once polls go through
# again. Last, `audit verify` is intact.
#   poison_test.sh --work DIR --bin-gateway F --bin-national F --bin-regional F --bin-month F
#                  [--units 40] [--pki DIR] [--deadline SECONDS]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
WORK="" PKI="" UNITS=40 DEADLINE=300
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
# The admin listener checks its alerts every check_every (default 1 min) and logs when one starts
# and when it clears; checked often here so that both log lines come within the scenario.
sed -i 's|"registry_stale": "26h"}|"registry_stale": "26h", "check_every": "200ms"}|' "$WORK/kakehashi.json"
grep -q '"check_every": "200ms"' "$WORK/kakehashi.json"
"$BIN_GATEWAY" config check "$WORK/kakehashi.json" >/dev/null
e2e_start_gateway "$WORK"
CONFIG="$WORK/kakehashi.json"
rc=0

"$BIN_MONTH" --national-port "$NATIONAL_PORT" --regional-port "$REGIONAL_PORT" --pki "$PKI" \
  --config "$CONFIG" --kakehashi "$BIN_GATEWAY" --regional-state "$WORK/regional.sqlite" \
  --scenario poison --units "$UNITS" --deadline "$DEADLINE" || rc=1

# ---- inbox-stalled: raised while the national inbox keeps failing, cleared when it recovers ----
ADMIN_PORT=""
for _ in $(seq 1 300); do
  ADMIN_PORT="$(sed -n 's/.*"event":"admin-listening".*"port":"\([0-9]*\)".*/\1/p' "$WORK/gateway.log" | tail -1)"
  [ -n "$ADMIN_PORT" ] && break
  sleep 0.1
done
if [ -z "$ADMIN_PORT" ]; then
  echo "FAIL: the gateway logged no admin-listening port"
  exit 1
fi
TOKEN="$(cat "$PKI/admin/operator.token")"
# 1 while kakehashi_alert_active{kind="inbox-stalled",subject="national"} is on /metrics, 0 while
# it is not; "unreadable" when /metrics did not answer with its alert families.
stalled_alert() {
  local metrics
  if ! metrics="$(curl -sS --fail --max-time 10 --cacert "$PKI/tls/admin-ca.pem" \
    -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$ADMIN_PORT/metrics")" ||
    ! grep -q '^kakehashi_alerts{kind="inbox-stalled"}' <<<"$metrics"; then
    echo unreadable
    return 0
  fi
  grep -c '^kakehashi_alert_active{.*kind="inbox-stalled".*subject="national".*} 1' <<<"$metrics" || true
}
# wait_alert WANT SECONDS: polls /metrics until the alert's state is WANT (deadline-bounded).
wait_alert() {
  local want="$1" limit="$2" end=$((SECONDS + $2))
  while [ "$SECONDS" -le "$end" ]; do
    [ "$(stalled_alert)" = "$want" ] && return 0
    sleep 0.2
  done
  echo "FAIL: inbox-stalled alert not $want within ${limit}s"
  return 1
}
national_fault() {
  curl -sS --fail --max-time 10 --cacert "$PKI/tls/national-ca.pem" \
    --cert "$PKI/tls/national-standin-client.cert.pem" --key "$PKI/tls/national-standin-client.key.pem" \
    -H 'Authorization: Admin admin' -H 'Content-Type: application/json' \
    -d "$1" "https://127.0.0.1:$NATIONAL_PORT/admin/v1/faults" >/dev/null
}
if [ "$(stalled_alert)" != 0 ]; then
  echo "FAIL: inbox-stalled is active before any poll failed"
  rc=1
fi
# Every call to the national network answers 500 (the gateway's polls and deliveries alike)
# until the count runs out; far more than kInboxStalledPolls (5) polls' worth, so the alert has
# time to show. The fault is then lifted explicitly (count 0).
national_fault '{"status":500,"count":100000,"retry_after":1}'
if wait_alert 1 60; then
  echo "ok inbox-stalled raised while the national inbox failed"
else
  rc=1
fi
national_fault '{"status":500,"count":0}'
if wait_alert 0 120; then
  echo "ok inbox-stalled cleared after the national inbox recovered"
else
  rc=1
fi
# The operator's log: the alert's start and its clearing, each once (the listener logs
# transitions on its check_every timer, so the clearing line may come a tick after /metrics).
wait_log() {
  local pattern="$1" end=$((SECONDS + 30))
  while [ "$SECONDS" -le "$end" ]; do
    grep -q "$pattern" "$WORK/gateway.log" && return 0
    sleep 0.2
  done
  echo "FAIL: no log line matching $pattern within 30s"
  return 1
}
wait_log '"event":"alert","alert":"inbox-stalled","subject":"national"' || rc=1
wait_log '"event":"alert-cleared","alert":"inbox-stalled","subject":"national"' || rc=1
for event in alert alert-cleared; do
  n="$(grep -c "\"event\":\"$event\",\"alert\":\"inbox-stalled\"" "$WORK/gateway.log" || true)"
  if [ "$n" != 1 ]; then
    echo "FAIL: $event for inbox-stalled logged $n times, expected once"
    rc=1
  fi
done

e2e_stop "$GATEWAY_PID" 60 || { echo "gateway exited with an error after SIGTERM"; rc=1; }
if ! "$BIN_GATEWAY" relay report --config "$CONFIG"; then
  echo "FAIL: relay report does not balance after the stall"
  rc=1
fi
if ! "$BIN_GATEWAY" audit verify --config "$CONFIG"; then
  echo "FAIL: audit verify"
  rc=1
fi
if [ "$rc" -ne 0 ]; then tail -n 20 "$WORK/gateway.log" || true; fi
exit "$rc"
