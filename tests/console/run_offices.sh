#!/usr/bin/env bash
# ctest console_offices: the console's Offices page in headless Chromium against the real admin
# listener with a network whose offices log in themselves (kakehashi-console-offices-server, a
# fake OfficeLogins; no concrete adapter). Makes a development PKI (deploy/pki.sh), starts the
# server, installs playwright-core (npm ci) and runs offices.spec.mjs.
#   run_offices.sh --work DIR --artifacts DIR --server F [--pki DIR] [--npm-dir DIR]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
WORK="" PKI="" ARTIFACTS="" NPM_DIR="" SERVER=""
while [ $# -gt 0 ]; do
  case "$1" in
    --work) WORK="$2" ;; --pki) PKI="$2" ;; --artifacts) ARTIFACTS="$2" ;; --npm-dir) NPM_DIR="$2" ;;
    --server) SERVER="$2" ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
if [ -z "$WORK" ] || [ -z "$ARTIFACTS" ] || [ -z "$SERVER" ]; then
  echo "usage: run_offices.sh --work DIR --artifacts DIR --server F [--pki DIR] [--npm-dir DIR]" >&2
  exit 2
fi
PKI="${PKI:-$(dirname "$WORK")/offices-pki}"
NPM_DIR="${NPM_DIR:-$(dirname "$WORK")/npm}"
rm -rf "$WORK"
mkdir -p "$WORK" "$PKI" "$ARTIFACTS" "$NPM_DIR"
WORK="$(cd "$WORK" && pwd)" PKI="$(cd "$PKI" && pwd)" ARTIFACTS="$(cd "$ARTIFACTS" && pwd)" NPM_DIR="$(cd "$NPM_DIR" && pwd)"
CHROMIUM="${KAKEHASHI_CHROMIUM:-/usr/bin/chromium}"
for tool in node npm "$CHROMIUM"; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "console_offices: $tool is missing (deploy/common.sh installs chromium, nodejs and npm)" >&2
    exit 1
  fi
done
if ! cmp -s "$HERE/package-lock.json" "$NPM_DIR/package-lock.json" || [ ! -d "$NPM_DIR/node_modules/playwright-core" ]; then
  cp "$HERE/package.json" "$HERE/package-lock.json" "$NPM_DIR/"
  (cd "$NPM_DIR" && npm_config_cache="$NPM_DIR/.cache" npm ci --no-audit --no-fund --loglevel=error)
fi
bash "$ROOT/deploy/pki.sh" "$PKI" >/dev/null

SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT
"$SERVER" --pki "$PKI" --work "$WORK" >"$WORK/server.out" 2>"$WORK/server.log" &
SERVER_PID=$!
PORT=""
for _ in $(seq 1 200); do
  PORT="$(sed -n 's/^port=//p' "$WORK/server.out")"
  [ -n "$PORT" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "the server exited:"; cat "$WORK/server.log"; exit 1; }
  # The server prints its port once listening; poll its output file.
  sleep 0.1
done
[ -n "$PORT" ] || { echo "the server did not print its port"; cat "$WORK/server.log"; exit 1; }

cat >"$WORK/harness.json" <<JSON
{
  "base_url": "https://127.0.0.1:$PORT",
  "operator_token": "$(head -n1 "$PKI/admin/operator.token")",
  "auditor_token": "$(head -n1 "$PKI/admin/auditor.token")",
  "chromium": "$CHROMIUM",
  "playwright": "$NPM_DIR/node_modules/playwright-core",
  "artifacts": "$ARTIFACTS",
  "work": "$WORK",
  "server_log": "$WORK/server.log"
}
JSON
set +e
node "$HERE/offices.spec.mjs" "$WORK/harness.json"
rc=$?
set -e
if [ "$rc" -ne 0 ]; then
  echo "-- last server log lines ($WORK/server.log):"
  tail -n 30 "$WORK/server.log" || true
fi
echo "screenshots: $ARTIFACTS"
exit "$rc"
