#!/usr/bin/env bash
# Kakehashi quickstart: install, build, create the development PKI, and play a realistic month of
# care-plan traffic through the gateway on SQLite twice: first with the national network of type
# kaigoweb (the Kaigo WEB Service, the national exchange from January 2027: its stand-in and the
# regional one, tests/e2e/kaigoweb_test.sh --scenario month), then with the NCP model (both
# stand-ins, tests/e2e/month_player.cpp). Exits 0 only if every number adds up in both.
# Idempotent: packages and the build are only redone when missing or changed; the PKI is kept;
# every run starts with fresh state under build/quickstart/run.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
started=$(date +%s)

kakehashi_install_packages
kakehashi_build "$KAKEHASHI_ROOT/build/release" RelWithDebInfo -DKAKEHASHI_BUILD_TESTS=ON
rel="$KAKEHASHI_ROOT/build/release"
BIN_GATEWAY="$rel/gateway/kakehashi"
BIN_NATIONAL="$rel/tests/peers/national/kakehashi-national-standin"
BIN_REGIONAL="$rel/tests/peers/regional/kakehashi-regional-standin"
BIN_MONTH="$rel/tests/e2e/kakehashi-month"
source "$KAKEHASHI_ROOT/tests/e2e/e2e_lib.sh"

echo
echo "== kakehashi inspect over the bundled sample units (the checks every unit goes through)"
"$BIN_GATEWAY" inspect "$KAKEHASHI_ROOT/tests/golden/samples/valid" | tail -n 3

QS="$KAKEHASHI_ROOT/build/quickstart"
PKI="$QS/pki"
WORK="$QS/run"
trap e2e_cleanup EXIT
echo
echo "== the month through the Kaigo WEB Service (national type kaigoweb, the default); state in $QS/run-kaigoweb"
set +e
bash "$KAKEHASHI_ROOT/tests/e2e/kaigoweb_test.sh" --scenario month --work "$QS/run-kaigoweb" \
  --pki "$PKI" --units 24 --deadline 300 --bin-gateway "$BIN_GATEWAY" \
  --bin-kaigoweb "$rel/tests/peers/kaigoweb/kakehashi-kaigoweb-standin" --bin-regional "$BIN_REGIONAL" \
  --bin-kaigoweb-office "$rel/tests/peers/kaigoweb/kakehashi-kaigoweb-office" \
  --bin-regional-office "$rel/tests/peers/regional/kakehashi-regional-office" \
  --bin-gen "$rel/tests/careplan_gen/kakehashi_gen"
kw_rc=$?
set -e
echo
echo "== the month through the NCP model (national type national)"
echo "== development PKI in $PKI; fresh state in $WORK"
e2e_prepare "$WORK" "$PKI"
e2e_start_standins "$WORK" "$PKI"
echo "   national stand-in on 127.0.0.1:$NATIONAL_PORT, regional stand-in on 127.0.0.1:$REGIONAL_PORT"
e2e_write_config "$WORK" "$PKI"
echo "   gateway config $WORK/kakehashi.json (from config/kakehashi.example.json)"
e2e_start_gateway "$WORK"
echo "   kakehashi run started (pid $GATEWAY_PID, JSON-line log $WORK/gateway.log)"
echo
set +e
"$BIN_MONTH" --national-port "$NATIONAL_PORT" --regional-port "$REGIONAL_PORT" --pki "$PKI" \
  --config "$WORK/kakehashi.json" --kakehashi "$BIN_GATEWAY" --regional-state "$WORK/regional.sqlite" \
  --scenario month --deadline 120
rc=$?
set -e
echo
echo "== stopping (SIGTERM drains the gateway)"
e2e_stop "$GATEWAY_PID" 60 || { echo "   the gateway did not exit cleanly (see $WORK/gateway.log)"; rc=1; }
e2e_stop "$NATIONAL_PID" 20 || true
e2e_stop "$REGIONAL_PID" 20 || true
echo "   relay report from the stopped gateway's store:"
"$BIN_GATEWAY" relay report --config "$WORK/kakehashi.json" | sed 's/^/   /' || rc=1
echo "   audit log of the stopped gateway (a clean stop seals it: no record unsealed):"
"$BIN_GATEWAY" audit verify --config "$WORK/kakehashi.json" | sed 's/^/   /' || rc=1
[ "$kw_rc" -eq 0 ] || { echo "   the Kaigo WEB month failed (exit code $kw_rc; see above)"; rc=1; }
echo
echo "quickstart finished in $(( $(date +%s) - started )) s with exit code $rc"
exit "$rc"
