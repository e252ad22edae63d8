#!/usr/bin/env bash
# kakehashi config check and kakehashi relay as an operator uses them, on a real config and store.
# Usage: daemon_cli_test.sh KAKEHASHI_BINARY SOURCE_DIR
set -uo pipefail
bin="$1"
src="$2"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
expect_exit() {
  local want="$1"; shift
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  [ "$got" -eq "$want" ] || fail "'$*' exited $got, expected $want: $(head -c 400 "$tmp/err")"
}

bash "$src/deploy/pki.sh" "$tmp/pki" >/dev/null 2>&1 || { echo "pki.sh failed"; exit 1; }
mkdir -p "$tmp/gw/outbox-office"
cat >"$tmp/gw/good.json" <<JSON
{
  // comments are allowed
  "instance": "test-1",
  "store": {"type": "sqlite", "path": "state.db"},
  "payload_key_file": "payload.key",
  "receipt_signer": {"certificate_file": "../pki/gateway/member-rsa.cert.pem",
                     "key_file": "../pki/gateway/member-rsa.key.pem"},
  "relay": {"max_attempts": 5, "backoff_initial": "2s"},
  "routing": {"preference": ["folder"]},
  "networks": {
    "folder": {"type": "folder", "trust_domain": "../pki/regional",
               "settings": {"root": "outbox-office",
                            "offices": [{"office_no": "3271500013", "service_type": "43",
                                         "certificate_file": "../pki/offices/regional/3271500013.cert.pem",
                                         "key_file": "../pki/offices/regional/3271500013.key.pem"}]}}
  }
}
JSON
expect_exit 0 "$bin" config check "$tmp/gw/good.json"
grep -q "ok" "$tmp/out" || fail "config check ok line missing"

cat >"$tmp/gw/bad.json" <<JSON
{
  "store": {"type": "oracle"},
  "relay": {"max_attempts": 0, "backoff_initial": "soon", "frobnicate": 1},
  "routing": {"preference": ["nowhere"]},
  "networks": {
    "x": {"type": "carrier-pigeon", "trust_domain": "no/such/dir"}
  }
}
JSON
expect_exit 1 "$bin" config check "$tmp/gw/bad.json"
for path in store.type relay.max_attempts relay.backoff_initial relay.frobnicate routing.preference \
            networks.x.type networks.x.trust_domain payload_key_file receipt_signer; do
  grep -q ": $path: " "$tmp/err" || fail "config check does not name $path: $(cat "$tmp/err")"
done
printf '{ "store": ' >"$tmp/gw/broken.json"
expect_exit 1 "$bin" config check "$tmp/gw/broken.json"
grep -q "broken.json:1" "$tmp/err" || fail "JSON syntax error without its line"
expect_exit 2 "$bin" config
expect_exit 2 "$bin" config check

# relay commands on a fresh store
expect_exit 0 "$bin" relay list --config "$tmp/gw/good.json"
grep -q "0 transfer(s)" "$tmp/out" || fail "empty list"
expect_exit 0 "$bin" relay report --config "$tmp/gw/good.json"
grep -q "^balanced: 0 in" "$tmp/out" || fail "empty report: $(cat "$tmp/out")"
expect_exit 0 "$bin" relay report --json --config "$tmp/gw/good.json"
grep -q '"balanced": true' "$tmp/out" || fail "json report"
expect_exit 1 "$bin" relay show 42 --config "$tmp/gw/good.json"
expect_exit 1 "$bin" relay retry 42 --config "$tmp/gw/good.json"
expect_exit 2 "$bin" relay show abc --config "$tmp/gw/good.json"
expect_exit 2 "$bin" relay frob --config "$tmp/gw/good.json"
expect_exit 2 "$bin" relay list
expect_exit 2 "$bin" run
expect_exit 0 "$bin" relay --help
expect_exit 0 "$bin" run --help

[ "$failures" -eq 0 ] && echo "daemon CLI: all checks passed"
exit $((failures > 0))
