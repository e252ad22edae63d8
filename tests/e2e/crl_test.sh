#!/usr/bin/env bash
# Expired CRL with each revocation policy (issue 8, fault injection): the gateway's regional trust
# domain holds a CRL past its nextUpdate (deploy/pki.sh: DIR/regional-stale, expired 3 days ago).
#   hard-fail: every regional unit comes back to its sender refused [SIGNATURE_INVALID], the text
#              saying the revocation information is stale; nothing reaches the national network.
#   soft-fail: (the CRL younger than crl_max_age, 30 days here) every unit is relayed and its receipt comes back.
# Both end with the relay report balanced.
#   crl_test.sh --work DIR --bin-gateway F --bin-national F --bin-regional F --bin-month F
#               [--units 20] [--pki DIR] [--deadline SECONDS]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
WORK="" PKI="" UNITS=20 DEADLINE=300
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
rc=0
for policy in hard-fail soft-fail; do
  echo "==== stale regional CRL, crl_policy = $policy"
  run="$WORK/$policy"
  E2E_PIDS=()
  trap e2e_cleanup EXIT
  e2e_prepare "$run" "$PKI"
  # A copy of the stale trust domain with the policy under test.
  mkdir -p "$run/trust"
  cp -r "$PKI/regional-stale" "$run/trust/regional"
  # soft-fail accepts a stale CRL only while it is younger than crl_max_age (this one was issued
  # 10 days ago): 30 days here.
  sed -i -e "s/^crl_policy = .*/crl_policy = $policy/" -e "s/^crl_max_age = .*/crl_max_age = 2592000/" \
    "$run/trust/regional/domain.conf"
  e2e_start_standins "$run" "$PKI"
  e2e_write_config "$run" "$PKI"
  sed -i "s|\"trust_domain\": \"$PKI/regional\"|\"trust_domain\": \"$run/trust/regional\"|" "$run/kakehashi.json"
  grep -q "\"trust_domain\": \"$run/trust/regional\"" "$run/kakehashi.json" || {
    echo "could not point the regional network at the stale trust domain" >&2; exit 2; }
  e2e_start_gateway "$run"
  expect=()
  [ "$policy" = hard-fail ] && expect=(--expect-code SIGNATURE_INVALID)
  set +e
  "$BIN_MONTH" --national-port "$NATIONAL_PORT" --regional-port "$REGIONAL_PORT" --pki "$PKI" \
    --config "$run/kakehashi.json" --kakehashi "$BIN_GATEWAY" --regional-state "$run/regional.sqlite" \
    --scenario crl --units "$UNITS" --deadline "$DEADLINE" "${expect[@]}"
  r=$?
  set -e
  e2e_stop "$GATEWAY_PID" 60 || { echo "gateway exited with an error after SIGTERM"; r=1; }
  if [ "$r" -ne 0 ]; then tail -n 20 "$run/gateway.log" || true; rc=1; fi
  e2e_cleanup
done
exit "$rc"
