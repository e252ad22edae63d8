#!/usr/bin/env bash
# kakehashi inspect as a user runs it: exit codes, help, errors, and the JSON output of the
# bundled samples against golden files.
# Usage: inspect_cli_test.sh KAKEHASHI_BINARY SOURCE_DIR
set -uo pipefail
bin="$1"
src="$2"
samples="$src/tests/golden/samples"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# expect_exit CODE -- command...
expect_exit() {
  local want="$1"; shift
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  [ "$got" -eq "$want" ] || fail "'$*' exited $got, expected $want (stderr: $(head -c 300 "$tmp/err"))"
}

expect_exit 0 "$bin" --help
grep -q "inspect" "$tmp/out" || fail "--help does not list inspect"
expect_exit 0 "$bin" inspect --help
grep -q "^Usage: kakehashi inspect" "$tmp/out" || fail "inspect --help has no usage line"
expect_exit 2 "$bin"
expect_exit 2 "$bin" no-such-command
expect_exit 2 "$bin" inspect
expect_exit 2 "$bin" inspect --frobnicate "$samples/valid"
expect_exit 2 "$bin" inspect --max-file-bytes "$samples/valid"
expect_exit 2 "$bin" inspect --max-file-bytes=-5 "$samples/valid"
expect_exit 2 "$bin" inspect "$tmp/does-not-exist"
grep -q "does-not-exist" "$tmp/err" || fail "I/O error does not name the path"

expect_exit 0 "$bin" inspect "$samples/valid"
grep -q "15 unit(s): 15 acceptable, 0 rejected" "$tmp/out" || fail "valid samples summary: $(tail -1 "$tmp/out")"
expect_exit 0 "$bin" inspect --json "$samples/valid"
diff -u "$samples/valid.inspect.json" "$tmp/out" >"$tmp/diff" || fail "valid JSON differs from golden: $(head -40 "$tmp/diff")"

expect_exit 1 "$bin" inspect "$samples/faulty"
expect_exit 1 "$bin" inspect --json "$samples/faulty"
diff -u "$samples/faulty.inspect.json" "$tmp/out" >"$tmp/diff" || fail "faulty JSON differs from golden: $(head -40 "$tmp/diff")"

# Files named one by one behave like the folder; a size limit turns into findings, not errors.
expect_exit 0 "$bin" inspect "$samples"/valid/UPJSK_*.CSV
expect_exit 1 "$bin" inspect --max-file-bytes 100 "$samples/valid"
grep -q "FILE_TOO_LARGE" "$tmp/out" || fail "size limit not reported"

# A damaged file next to a good unit: the good unit is still reported acceptable.
cp "$samples"/valid/DLTJSK_* "$tmp/"
head -c 100 /dev/urandom > "$tmp/UPPLAN_202506_1370100016_43_1371100452_11_20250601120000.CSV"
expect_exit 1 "$bin" inspect "$tmp"
grep -q "ACCEPTABLE" "$tmp/out" || fail "a damaged unit hid the good one"

[ "$failures" -eq 0 ] && echo "inspect CLI: all checks passed"
exit $((failures > 0))
