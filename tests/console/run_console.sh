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
mkdir -p "$WORK" "$PKI" "$ARTIFACTS" "$NPM_DIR"
WORK="$(cd "$WORK" && pwd)" PKI="$(cd "$PKI" && pwd)" ARTIFACTS="$(cd "$ARTIFACTS" && pwd)" NPM_DIR="$(cd "$NPM_DIR" && pwd)"
CHROMIUM="${KAKEHASHI_CHROMIUM:-/usr/bin/chromium}"
for tool in node npm "$CHROMIUM"; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "console_browser: $tool is missing (deploy/common.sh installs chromium, nodejs and npm)" >&2
    exit 1
  fi
done

# playwright-core from the lock file, outside the source tree; reinstalled only when the lock changes.
if ! cmp -s "$HERE/package-lock.json" "$NPM_DIR/package-lock.json" || [ ! -d "$NPM_DIR/node_modules/playwright-core" ]; then
  cp "$HERE/package.json" "$HERE/package-lock.json" "$NPM_DIR/"
  (cd "$NPM_DIR" && npm_config_cache="$NPM_DIR/.cache" npm ci --no-audit --no-fund --loglevel=error)
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
ADMIN_CERT="$PKI/tls/admin-server.cert.pem" ADMIN_KEY="$PKI/tls/admin-server.key.pem"
if [ ! -f "$ADMIN_CERT" ]; then
  ADMIN_CERT="$PKI/tls/gateway-national-server-ec.cert.pem" ADMIN_KEY="$PKI/tls/gateway-national-server-ec.key.pem"
fi
# The test's own admin section (whatever the template has): the config without its comment lines,
# parsed, given "admin", written back as plain JSON.
ADMIN_PORT="$ADMIN_PORT" ADMIN_CERT="$ADMIN_CERT" ADMIN_KEY="$ADMIN_KEY" TOKENS="$WORK/admin-tokens" node -e '
  const fs = require("fs");
  const file = process.argv[1];
  const text = fs.readFileSync(file, "utf8").split("\n").filter((l) => !/^\s*\/\//.test(l)).join("\n");
  const c = JSON.parse(text);
  const e = process.env;
  c.admin = { listen: "127.0.0.1:" + e.ADMIN_PORT, tls: { certificate_file: e.ADMIN_CERT, key_file: e.ADMIN_KEY },
              tokens_file: e.TOKENS };
  fs.writeFileSync(file, JSON.stringify(c, null, 2) + "\n");
' "$WORK/kakehashi.json"
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
