#!/usr/bin/env bash
# The fault-injection suite (issue 8) in one command: each scenario runs the gateway between both
# stand-ins and ends with kakehashi-month proving from the stand-ins' delivery logs that nothing was
# lost and nothing delivered twice, every receipt came back, and `kakehashi relay report` balances.
#
#   tests/e2e/faults.sh [--build DIR] [--work DIR] [--short] [scenario...]
#
# scenarios: crash (SIGKILL at random moments), outage (the regional network down, then the
# backlog drains in order), faults (cut answers, garbage JSON, 500/429/503, duplicate storms on
# both networks), crl (a stale CRL under hard-fail and soft-fail), disk-full (the store's writes
# fail, then space returns), clock-skew (the gateway's clock 5 minutes ahead, then behind), instances (two gateways on one
# PostgreSQL, one killed; needs pg_virtualenv).
# Default: all of them, long versions (crash 5,000 units × 20 kills). --short: the CI sizes.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BUILD="$ROOT/build/release" WORK="" SHORT=0 SCENARIOS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD="$(cd "$2" && pwd)"; shift ;;
    --work) WORK="$2"; shift ;;
    --short) SHORT=1 ;;
    crash|outage|faults|crl|disk-full|clock-skew|instances) SCENARIOS+=("$1") ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[ "${#SCENARIOS[@]}" -gt 0 ] || SCENARIOS=(crash outage faults crl disk-full clock-skew instances)
WORK="${WORK:-$BUILD/faults}"
mkdir -p "$WORK"
BINS=(--bin-gateway "$BUILD/gateway/kakehashi"
      --bin-national "$BUILD/tests/peers/national/kakehashi-national-standin"
      --bin-regional "$BUILD/tests/peers/regional/kakehashi-regional-standin"
      --bin-month "$BUILD/tests/e2e/kakehashi-month")
for b in "${BINS[@]}"; do
  case "$b" in --*) ;; *) [ -x "$b" ] || { echo "missing $b (build it first)" >&2; exit 2; } ;; esac
done
if [ "$SHORT" = 1 ]; then
  CRASH=(--units 300 --kills 6 --deadline 300) OUTAGE=(--seconds 15) FAULTS=300 INSTANCES=300
else
  CRASH=(--units 5000 --kills 20 --deadline 1800) OUTAGE=(--seconds 120 --deadline 900) FAULTS=2000 INSTANCES=2000
fi
failed=()
for s in "${SCENARIOS[@]}"; do
  echo "==== $s"
  start=$(date +%s)
  case "$s" in
    crash) bash "$HERE/crash_test.sh" --work "$WORK/crash" --pki "$WORK/pki" "${CRASH[@]}" "${BINS[@]}" ;;
    outage) bash "$HERE/outage_test.sh" --work "$WORK/outage" --pki "$WORK/pki" "${OUTAGE[@]}" "${BINS[@]}" ;;
    faults) bash "$HERE/run_month.sh" --work "$WORK/faults" --pki "$WORK/pki" --scenario faults \
              --units "$FAULTS" --deadline 600 "${BINS[@]}" ;;
    crl) bash "$HERE/crl_test.sh" --work "$WORK/crl" --pki "$WORK/pki" "${BINS[@]}" ;;
    disk-full) bash "$HERE/disk_full_test.sh" --work "$WORK/disk-full" --pki "$WORK/pki" "${BINS[@]}" ;;
    clock-skew) bash "$HERE/clock_skew_test.sh" --work "$WORK/clock-skew" --pki "$WORK/pki" "${BINS[@]}" ;;
    instances) pg_virtualenv bash "$HERE/multi_instance.sh" --work "$WORK/instances" --pki "$WORK/pki" \
                 --units "$INSTANCES" "${BINS[@]}" ;;
  esac && rc=0 || rc=$?
  echo "==== $s: $([ "$rc" = 0 ] && echo passed || echo "FAILED ($rc)") in $(( $(date +%s) - start )) s"
  [ "$rc" = 0 ] || failed+=("$s")
done
if [ "${#failed[@]}" -gt 0 ]; then echo "failed: ${failed[*]}"; exit 1; fi
echo "all passed: ${SCENARIOS[*]}"
