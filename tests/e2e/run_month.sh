#!/usr/bin/env bash
# ctest e2e_month: both stand-ins, the gateway on SQLite, and kakehashi-month's realistic month.
#   run_month.sh --work DIR --bin-gateway F --bin-national F --bin-regional F --bin-month F [--pki DIR]
#                [--scenario month|faults] [--units N] [--deadline SECONDS]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
WORK="" PKI="" SCENARIO=month UNITS=400 DEADLINE="${E2E_DEADLINE:-120}"
while [ $# -gt 0 ]; do
  case "$1" in
    --work) WORK="$2" ;; --pki) PKI="$2" ;; --scenario) SCENARIO="$2" ;; --units) UNITS="$2" ;;
    --deadline) DEADLINE="$2" ;;
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
e2e_start_gateway "$WORK"
set +e
"$BIN_MONTH" --national-port "$NATIONAL_PORT" --regional-port "$REGIONAL_PORT" --pki "$PKI" \
  --config "$WORK/kakehashi.json" --kakehashi "$BIN_GATEWAY" --regional-state "$WORK/regional.sqlite" \
  --scenario "$SCENARIO" --units "$UNITS" --deadline "$DEADLINE"
rc=$?
set -e
e2e_stop "$GATEWAY_PID" 60 || { echo "gateway exited with an error after SIGTERM (log: $WORK/gateway.log)"; rc=1; }
if [ "$rc" -ne 0 ]; then
  echo "-- last gateway log lines ($WORK/gateway.log):"
  tail -n 20 "$WORK/gateway.log" || true
fi
exit "$rc"
