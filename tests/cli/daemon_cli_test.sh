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
  "relay": {"max_attempts": 5, "backoff_initial": "2s", "evidence_retention": "3653d"},
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
  "relay": {"max_attempts": 0, "backoff_initial": "soon", "frobnicate": 1,
            "evidence_retention": "1h"},
  "routing": {"preference": ["nowhere"]},
  "networks": {
    "x": {"type": "carrier-pigeon", "trust_domain": "no/such/dir"}
  }
}
JSON
expect_exit 1 "$bin" config check "$tmp/gw/bad.json"
for path in store.type relay.max_attempts relay.backoff_initial relay.frobnicate \
            relay.evidence_retention routing.preference \
            networks.x.type networks.x.trust_domain payload_key_file receipt_signer; do
  grep -q ": $path: " "$tmp/err" || fail "config check does not name $path: $(cat "$tmp/err")"
done
printf '{ "store": ' >"$tmp/gw/broken.json"
expect_exit 1 "$bin" config check "$tmp/gw/broken.json"
grep -q "broken.json:1" "$tmp/err" || fail "JSON syntax error without its line"
expect_exit 2 "$bin" config
expect_exit 2 "$bin" config check

# Secrets readable by group or others (issue 14): `config check` and `run` refuse them alike,
# naming the key path and the file. A copy of an office key, the audit HMAC key and the national
# password file, each at mode 0644.
cp "$tmp/pki/offices/regional/3271500013.key.pem" "$tmp/gw/office-0644.key.pem"
printf 'hmac-key-0123456789abcdef' >"$tmp/gw/audit-0644.key"
printf 'pw\n' >"$tmp/gw/national-0644.password"
chmod 0644 "$tmp/gw/office-0644.key.pem" "$tmp/gw/audit-0644.key" "$tmp/gw/national-0644.password"
cat >"$tmp/gw/modes.json" <<JSON
{
  "instance": "test-modes",
  "store": {"type": "sqlite", "path": "state-modes.db"},
  "payload_key_file": "payload.key",
  "receipt_signer": {"certificate_file": "../pki/gateway/member-rsa.cert.pem",
                     "key_file": "../pki/gateway/member-rsa.key.pem"},
  "audit": {"hmac_key_file": "audit-0644.key"},
  "routing": {"preference": ["folder"]},
  "networks": {
    "folder": {"type": "folder", "trust_domain": "../pki/regional",
               "settings": {"root": "outbox-office",
                            "offices": [{"office_no": "3271500013", "service_type": "43",
                                         "certificate_file": "../pki/offices/regional/3271500013.cert.pem",
                                         "key_file": "office-0644.key.pem"}]}},
    "national": {"type": "national", "trust_domain": "../pki/national",
                 "cosign": {"certificate_file": "../pki/gateway/proxy-rsa.cert.pem",
                            "key_file": "../pki/gateway/proxy-rsa.key.pem"},
                 "settings": {"port": 4431, "user_id": "KJ000000000001",
                              "password_file": "national-0644.password",
                              "tls": {"ca_file": "../pki/tls/national-ca.pem",
                                      "cert_file": "../pki/tls/gateway-national-client-rsa.cert.pem",
                                      "key_file": "../pki/tls/gateway-national-client-rsa.key.pem"},
                              "document_cert_file": "../pki/gateway/proxy-rsa.cert.pem",
                              "document_key_file": "../pki/gateway/proxy-rsa.key.pem"}}
  }
}
JSON
for command in "config check" "run --config"; do
  want=1
  [ "$command" = "config check" ] || want=2  # run: a config error is a usage error
  expect_exit "$want" "$bin" $command "$tmp/gw/modes.json"
  for what in "audit.hmac_key_file: audit HMAC key audit-0644.key has mode 0644" \
              "networks.folder.settings.offices\[0\].key_file: private key office-0644.key.pem has mode 0644" \
              "networks.national.settings.password_file: password file national-0644.password has mode 0644"; do
    grep -q "$what" "$tmp/err" || fail "$command does not refuse: $what: $(head -c 600 "$tmp/err")"
  done
done
[ ! -e "$tmp/gw/state-modes.db" ] || fail "run opened the store despite readable secrets"
chmod 0600 "$tmp/gw/office-0644.key.pem" "$tmp/gw/audit-0644.key" "$tmp/gw/national-0644.password"
"$bin" config check "$tmp/gw/modes.json" >"$tmp/out" 2>"$tmp/err"
grep -q "ok" "$tmp/out" || fail "modes.json at 0600 not accepted: $(cat "$tmp/err")"

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

# retry and park on a transfer in flight (gateway/operations). A park the store does not write
# (delivery finished the transfer between the check and the write; a trigger stands in for it)
# is an error, not "parked".
if command -v sqlite3 >/dev/null; then
  sqlite3 "$tmp/gw/state.db" "INSERT INTO kh_transfers (source_adapter, source_id, dest_adapter,
    direction, sender_office, sender_type, recipient_office, recipient_type, sequence, unit_kind,
    subject_key, state, idempotency_key, created_at, updated_at) VALUES ('folder', 'u1', 'folder',
    'folder->folder', '3271500013', '43', '1371100452', '11', '20250601090000', 'K2',
    'K2:202506:u1', 'accepted', 'kh-u1', 1748736000000, 1748736000000);
    CREATE TRIGGER kh_test_no_park BEFORE UPDATE OF state ON kh_transfers
    WHEN NEW.state = 'parked' BEGIN SELECT RAISE(IGNORE); END;" || fail "cannot seed a transfer"
  id="$(sqlite3 "$tmp/gw/state.db" "SELECT id FROM kh_transfers WHERE source_id = 'u1'")"
  expect_exit 1 "$bin" relay park "$id" --config "$tmp/gw/good.json"
  grep -q "kakehashi relay park: transfer $id finished before it could be parked" "$tmp/err" ||
    fail "unwritten park not reported: $(cat "$tmp/err")"
  grep -q "parked" "$tmp/out" && fail "unwritten park printed as parked: $(cat "$tmp/out")"
  sqlite3 "$tmp/gw/state.db" "DROP TRIGGER kh_test_no_park"
  expect_exit 0 "$bin" relay park "$id" --reason "held for a check" --config "$tmp/gw/good.json"
  grep -q "transfer $id parked" "$tmp/out" || fail "park: $(cat "$tmp/out")"
  expect_exit 1 "$bin" relay park "$id" --config "$tmp/gw/good.json"
  grep -q "transfer $id is parked, not in flight" "$tmp/err" || fail "park twice: $(cat "$tmp/err")"
  expect_exit 0 "$bin" relay retry "$id" --config "$tmp/gw/good.json"
  grep -q "transfer $id re-driven" "$tmp/out" || fail "retry: $(cat "$tmp/out")"
  expect_exit 1 "$bin" relay retry "$id" --config "$tmp/gw/good.json"
  grep -q "transfer $id is accepted, not parked" "$tmp/err" || fail "retry twice: $(cat "$tmp/err")"
else
  fail "sqlite3 missing: the retry/park checks need it"
fi
expect_exit 2 "$bin" relay frob --config "$tmp/gw/good.json"
expect_exit 2 "$bin" relay list
expect_exit 2 "$bin" run
expect_exit 0 "$bin" relay --help
expect_exit 0 "$bin" run --help

[ "$failures" -eq 0 ] && echo "daemon CLI: all checks passed"
exit $((failures > 0))
