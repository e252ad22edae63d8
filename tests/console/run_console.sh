#!/usr/bin/env bash
# ctest console_browser: the web console in headless Chromium against a running gateway.
# Makes a development PKI, starts both stand-ins and `kakehashi run` with an admin listener
# (operator and auditor tokens), installs playwright-core (npm ci) and runs console.spec.mjs,
# which plays a month of traffic through the gateway while it watches the dashboard, parks a
# transfer, re-drives it, and compares an audit export with `kakehashi audit export`.
#   run_console.sh --work DIR --artifacts DIR --bin-gateway F --bin-national F --bin-regional F
#                  --bin-month F [--pki DIR] [--npm-dir DIR]
# Screenshots go to the artifacts directory; the gateway and stand-in logs stay in the work dir.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/../e2e/e2e_lib.sh"
WORK="" PKI="" ARTIFACTS="" NPM_DIR="" BIN_MONTH=""
while [ $# -gt 0 ]; do
  case "$1" in
    --work) WORK="$2" ;; --pki) PKI="$2" ;; --artifacts) ARTIFACTS="$2" ;; --npm-dir) NPM_DIR="$2" ;;
    --bin-gateway) BIN_GATEWAY="$2" ;; --bin-national) BIN_NATIONAL="$2" ;;
    --bin-regional) BIN_REGIONAL="$2" ;; --bin-month) BIN_MONTH="$2" ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
if [ -z "$WORK" ] || [ -z "$ARTIFACTS" ] || [ -z "$BIN_MONTH" ]; then
  echo "usage: run_console.sh --work DIR --artifacts DIR --bin-gateway F --bin-national F --bin-regional F --bin-month F [--pki DIR] [--npm-dir DIR]" >&2
  exit 2
fi
PKI="${PKI:-$(dirname "$WORK")/console-pki}"
NPM_DIR="${NPM_DIR:-$(dirname "$WORK")/npm}"
CHROMIUM="${KAKEHASHI_CHROMIUM:-/usr/bin/chromium}"
for tool in node npm "$CHROMIUM"; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "console_browser: $tool is missing (deploy/common.sh installs chromium, nodejs and npm)" >&2
    exit 1
  fi
done

# playwright-core from the lock file, outside the source tree; reinstalled only when the lock changes.
mkdir -p "$NPM_DIR"
if ! cmp -s "$HERE/package-lock.json" "$NPM_DIR/package-lock.json" || [ ! -d "$NPM_DIR/node_modules/playwright-core" ]; then
  cp "$HERE/package.json" "$HERE/package-lock.json" "$NPM_DIR/"
  (cd "$NPM_DIR" && npm ci --no-audit --no-fund --loglevel=error)
fi

trap e2e_cleanup EXIT
e2e_prepare "$WORK" "$PKI"
rm -rf "$ARTIFACTS"
mkdir -p "$ARTIFACTS"
e2e_start_standins "$WORK" "$PKI"
e2e_write_config "$WORK" "$PKI"

# The admin listener: a free loopback port, the gateway's TLS server certificate, two tokens.
ADMIN_PORT="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close();})')"
OPERATOR_TOKEN="op-$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
AUDITOR_TOKEN="au-$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
(umask 077; printf '# console test tokens\noperator %s console-operator\nauditor %s console-auditor\n' \
  "$OPERATOR_TOKEN" "$AUDITOR_TOKEN" >"$WORK/admin-tokens")
ADMIN_CERT="$PKI/tls/gateway-national-server-ec.cert.pem"
ADMIN_KEY="$PKI/tls/gateway-national-server-ec.key.pem"
# The admin section goes first in the config object (the template's first line that is "{").
sed -i "0,/^{\$/s||{\n  \"admin\": {\"listen\": \"127.0.0.1:$ADMIN_PORT\", \"tls\": {\"certificate_file\": \"$ADMIN_CERT\", \"key_file\": \"$ADMIN_KEY\"}, \"tokens_file\": \"$WORK/admin-tokens\"},|" \
  "$WORK/kakehashi.json"
"$BIN_GATEWAY" config check "$WORK/kakehashi.json"
e2e_start_gateway "$WORK"

cat >"$WORK/harness.json" <<EOF
{
  "base_url": "https://127.0.0.1:$ADMIN_PORT",
  "operator_token": "$OPERATOR_TOKEN",
  "auditor_token": "$AUDITOR_TOKEN",
  "chromium": "$CHROMIUM",
  "playwright": "$NPM_DIR/node_modules/playwright-core",
  "artifacts": "$ARTIFACTS",
  "work": "$WORK",
  "kakehashi": "$BIN_GATEWAY",
  "config": "$WORK/kakehashi.json",
  "gateway_pid": $GATEWAY_PID,
  "month": ["$BIN_MONTH", "--national-port", "$NATIONAL_PORT", "--regional-port", "$REGIONAL_PORT",
            "--pki", "$PKI", "--config", "$WORK/kakehashi.json", "--kakehashi", "$BIN_GATEWAY",
            "--regional-state", "$WORK/regional.sqlite", "--scenario", "month", "--deadline", "120"]
}
EOF

set +e
node "$HERE/console.spec.mjs" "$WORK/harness.json"
rc=$?
set -e
e2e_stop "$GATEWAY_PID" 60 || { echo "gateway exited with an error after SIGTERM (log: $WORK/gateway.log)"; rc=1; }
if [ "$rc" -ne 0 ]; then
  echo "-- last gateway log lines ($WORK/gateway.log):"
  tail -n 30 "$WORK/gateway.log" || true
fi
echo "screenshots: $ARTIFACTS"
exit "$rc"
