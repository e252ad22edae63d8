# Shared by tests/e2e/run_month.sh, tests/e2e/crash_test.sh and deploy/quickstart.sh: start both
# stand-ins (seeded with the offices of tests/e2e/*.json), write a gateway config from
# config/kakehashi.example.json, start/stop/kill the gateway, and stop everything on exit.
# Source it, set BIN_GATEWAY BIN_NATIONAL BIN_REGIONAL, then call the functions in order.

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
E2E_ROOT="$(cd "$E2E_DIR/../.." && pwd)"
E2E_PIDS=()
E2E_STANDIN_WRAP="${E2E_STANDIN_WRAP:-}"
E2E_PROXY_USER=KJ900000000001

# e2e_wait_port FILE PID NAME: the port a process printed as "port=N" (30 s at most).
e2e_wait_port() {
  local file="$1" pid="$2" name="$3" i
  for i in $(seq 1 300); do
    if grep -q '^port=' "$file" 2>/dev/null; then
      sed -n 's/^port=\([0-9]*\).*/\1/p' "$file" | head -1
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$name exited before listening; its log:" >&2
      cat "$file" "${file%.out}.log" >&2 2>/dev/null || true
      return 1
    fi
    sleep 0.1
  done
  echo "$name did not print its port" >&2
  return 1
}

# e2e_start_standins WORK PKI: sets NATIONAL_PORT, REGIONAL_PORT, NATIONAL_PID, REGIONAL_PID.
# E2E_STANDIN_WRAP (unquoted words, e.g. "faketime -f +5m") runs both stand-ins under a wrapper;
# E2E_NATIONAL_OFFICES (the national office master, default tests/e2e/national_offices.json),
# E2E_NATIONAL_EXTRA and E2E_REGIONAL_EXTRA (unquoted words: more flags) change what they start.
e2e_start_standins() {
  local work="$1" pki="$2"
  local accounts=(--account "$E2E_PROXY_USER:$(cat "$work/national-proxy.password"):proxy")
  local i=1 no
  for no in 1370100016 1370100024 1370100032 1371100452 1371100460 1371100478; do
    accounts+=(--account "$(printf 'KJ1000000000%02d' "$i"):month-$no:office:$no")
    i=$((i + 1))
  done
  $E2E_STANDIN_WRAP "$BIN_NATIONAL" --pki "$pki" --state "$work/national.sqlite" \
    --offices "${E2E_NATIONAL_OFFICES:-$E2E_DIR/national_offices.json}" ${E2E_NATIONAL_EXTRA:-} \
    "${accounts[@]}" >"$work/national.out" 2>"$work/national.log" &
  NATIONAL_PID=$!
  E2E_PIDS+=("$NATIONAL_PID")
  $E2E_STANDIN_WRAP "$BIN_REGIONAL" --pki "$pki" --state "$work/regional.sqlite" \
    --seed-directory "$E2E_DIR/regional_directory.json" ${E2E_REGIONAL_EXTRA:-} \
    >"$work/regional.out" 2>"$work/regional.log" &
  REGIONAL_PID=$!
  E2E_PIDS+=("$REGIONAL_PID")
  NATIONAL_PORT="$(e2e_wait_port "$work/national.out" "$NATIONAL_PID" national-standin)"
  REGIONAL_PORT="$(e2e_wait_port "$work/regional.out" "$REGIONAL_PID" regional-standin)"
}

# e2e_start_regional WORK NAME PKI PORT [FLAGS...]: one more regional stand-in (a second regional
# network) on PORT (0 = any), its state WORK/NAME.sqlite, output WORK/NAME.out (truncated), log
# WORK/NAME.log (appended), pid WORK/NAME.pid; sets E2E_STARTED_PORT. Starting it again with the
# same NAME and its port brings the same network back after an outage.
e2e_start_regional() {
  local work="$1" name="$2" pki="$3" port="$4" pid
  shift 4
  : >"$work/$name.out"
  "$BIN_REGIONAL" --pki "$pki" --state "$work/$name.sqlite" --port "$port" "$@" \
    >"$work/$name.out" 2>>"$work/$name.log" </dev/null &
  pid=$!
  E2E_PIDS+=("$pid")
  echo "$pid" >"$work/$name.pid"
  E2E_STARTED_PORT="$(e2e_wait_port "$work/$name.out" "$pid" "$name")"
}

# e2e_prepare_pki_b PKI_B OFFICES: a second regional network's own PKI (deploy/pki.sh with its own
# organisation, so its CAs differ from the first network's, and its own office numbers).
e2e_prepare_pki_b() {
  local pki_b="$1" offices="$2" no
  for no in $offices; do
    if [ ! -f "$pki_b/offices/regional/$no.cert.pem" ] || [ ! -f "$pki_b/tls/regional-ca.pem" ]; then
      bash "$E2E_ROOT/deploy/pki.sh" --regional-org "Regional Care Network B (dev)" \
        --regional-offices "$offices" "$pki_b" >/dev/null
      return 0
    fi
  done
}

# e2e_trust_domain OUT NAME DOMAIN_DIR...: a trust domain (mapping/cms/README.md) accepting every
# anchor and CRL of the given domains, without time windows: what a network trusts for the
# gateway's relayed messages when they come from several other networks (README, "Several
# regional networks").
e2e_trust_domain() {
  local out="$1" name="$2" src i=0 f policy
  shift 2
  rm -rf "$out"
  mkdir -p "$out/anchors" "$out/crls"
  policy="$(sed -n 's/^crl_policy = //p' "$1/domain.conf")"
  {
    echo "name = $name"
    echo "crl_policy = ${policy:-hard-fail}"
    echo "crl_max_age = 604800"
    echo "office_rule = subject serialNumber"
  } >"$out/domain.conf"
  for src in "$@"; do
    i=$((i + 1))
    for f in "$src"/anchors/*.pem; do
      cp "$f" "$out/anchors/$i-$(basename "$f")"
      echo "anchor = anchors/$i-$(basename "$f") - -" >>"$out/domain.conf"
    done
    for f in "$src"/crls/*; do
      [ -f "$f" ] && cp "$f" "$out/crls/$i-$(basename "$f")"
    done
  done
}

# e2e_prepare WORK PKI: fresh state directory, the proxy's password, the PKI (kept between runs).
e2e_prepare() {
  local work="$1" pki="$2"
  rm -rf "$work"
  mkdir -p "$work"
  if [ ! -f "$pki/tls/national-ca.pem" ] || [ ! -f "$pki/offices/regional/3271500062.cert.pem" ] ||
    [ ! -f "$pki/admin/tokens" ]; then
    bash "$E2E_ROOT/deploy/pki.sh" "$pki" >/dev/null
  fi
  (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$work/national-proxy.password")
}

# e2e_write_config WORK PKI: WORK/kakehashi.json from the documented template.
e2e_write_config() {
  local work="$1" pki="$2"
  sed -e "s|@PKI@|$pki|g" -e "s|@RUN@|$work|g" -e "s|@NATIONAL_PORT@|$NATIONAL_PORT|g" \
    -e "s|@REGIONAL_PORT@|$REGIONAL_PORT|g" "$E2E_ROOT/config/kakehashi.example.json" >"$work/kakehashi.json"
  "$BIN_GATEWAY" config check "$work/kakehashi.json" >/dev/null
}

# e2e_start_gateway WORK: sets GATEWAY_PID; JSON-line logs appended to WORK/gateway.log.
e2e_start_gateway() {
  local work="$1"
  "$BIN_GATEWAY" run --config "$work/kakehashi.json" >>"$work/gateway.out" 2>>"$work/gateway.log" &
  GATEWAY_PID=$!
  E2E_GATEWAY_STARTS=$((${E2E_GATEWAY_STARTS:-0} + 1))
  E2E_PIDS+=("$GATEWAY_PID")
}

# e2e_stop PID [SECONDS]: SIGTERM, wait (then SIGKILL if it does not stop in time). Returns its status.
e2e_stop() {
  local pid="$1" limit="${2:-60}" i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 $((limit * 10))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "process $pid did not stop within ${limit}s of SIGTERM; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null
}

# Stops whatever this script started and is still running (registered as an EXIT trap).
e2e_cleanup() {
  local pid
  for pid in "${E2E_PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then e2e_stop "$pid" 20 || true; fi
  done
}

# ---- The Kaigo WEB Service path (adapters/kaigoweb/PROTOCOL.md): its stand-in with the PKI's
# accounts and office list, the gateway config with the kaigoweb national network, logins a
# person carries out with the stand-in's OTP files, and the national offices' client. Set
# BIN_KAIGOWEB (kakehashi-kaigoweb-standin) and BIN_KAIGOWEB_OFFICE (kakehashi-kaigoweb-office).

# e2e_start_kaigoweb WORK PKI [FLAGS...]: the stand-in (state WORK/kaigoweb.sqlite, OTP files in
# WORK/otp); sets KAIGOWEB_PORT and KAIGOWEB_PID. Started again with --port KAIGOWEB_PORT it
# brings the same service back.
e2e_start_kaigoweb() {
  local work="$1" pki="$2"
  shift 2
  mkdir -p "$work/otp"
  : >"$work/kaigoweb.out"
  "$BIN_KAIGOWEB" --pki "$pki" --state "$work/kaigoweb.sqlite" --otp-dir "$work/otp" \
    --accounts "$pki/kaigoweb/accounts" --offices "$pki/kaigoweb/offices.json" "$@" \
    >"$work/kaigoweb.out" 2>>"$work/kaigoweb.log" </dev/null &
  KAIGOWEB_PID=$!
  E2E_PIDS+=("$KAIGOWEB_PID")
  KAIGOWEB_PORT="$(e2e_wait_port "$work/kaigoweb.out" "$KAIGOWEB_PID" kaigoweb-standin)"
}

# e2e_kaigoweb_admin PKI METHOD PATH [JSON]: one call to the stand-in's admin surface (§9).
e2e_kaigoweb_admin() {
  local pki="$1" method="$2" path="$3" body="${4:-}"
  local args=(-sS --fail --max-time 20 --cacert "$pki/kaigoweb/ca.pem"
    --cert "$pki/kaigoweb/admin-client.cert.pem" --key "$pki/kaigoweb/admin-client.key.pem"
    -H 'Authorization: Admin admin' -X "$method")
  [ -z "$body" ] || args+=(-H 'Content-Type: application/json' --data-binary "$body")
  curl "${args[@]}" "https://127.0.0.1:$KAIGOWEB_PORT$path"
}

# e2e_start_kaigoweb_regional WORK PKI: the regional stand-in beside it (state
# WORK/regional.sqlite, the development directory); sets REGIONAL_PORT and REGIONAL_PID.
e2e_start_kaigoweb_regional() {
  local work="$1" pki="$2"
  e2e_start_regional "$work" regional "$pki" "${REGIONAL_PORT:-0}" \
    --seed-directory "$E2E_DIR/regional_directory.json" ${E2E_REGIONAL_EXTRA:-}
  REGIONAL_PORT="$E2E_STARTED_PORT"
  REGIONAL_PID="$(cat "$work/regional.pid")"
}

# e2e_write_kaigoweb_config WORK PKI: WORK/kakehashi.json from config/kakehashi.kaigoweb.example.json.
e2e_write_kaigoweb_config() {
  local work="$1" pki="$2"
  sed -e "s|@PKI@|$pki|g" -e "s|@RUN@|$work|g" -e "s|@KAIGOWEB_PORT@|$KAIGOWEB_PORT|g" \
    -e "s|@REGIONAL_PORT@|$REGIONAL_PORT|g" "$E2E_ROOT/config/kakehashi.kaigoweb.example.json" \
    >"$work/kakehashi.json"
  "$BIN_GATEWAY" config check "$work/kakehashi.json" >/dev/null
}

# e2e_admin_port WORK: the admin listener's port of the gateway started last (30 s at most).
e2e_admin_port() {
  local work="$1" i port
  for i in $(seq 1 300); do
    if [ "$(grep -c '"event":"admin-listening"' "$work/gateway.log" 2>/dev/null)" -ge "${E2E_GATEWAY_STARTS:-1}" ]; then
      port="$(sed -n 's/.*"event":"admin-listening".*"port":"\([0-9]*\)".*/\1/p' "$work/gateway.log" | tail -1)"
      [ -z "$port" ] || { echo "$port"; return 0; }
    fi
    sleep 0.1
  done
  echo "the gateway logged no admin-listening line" >&2
  return 1
}

# e2e_kaigoweb_login WORK PKI OFFICE: what a person does when an office needs a login
# (PROTOCOL.md §7.3): `kakehashi kaigoweb login` through the running gateway's admin API, the
# code read from the stand-in's OTP file for that office. Prints the CLI's output; its status.
e2e_kaigoweb_login() {
  local work="$1" pki="$2" office="$3" port user
  port="$(e2e_admin_port "$work")" || return 4
  user="$(cat "$pki/kaigoweb/credentials/$office/user_id")"
  "$BIN_GATEWAY" kaigoweb login kaigoweb "$office" --config "$work/kakehashi.json" \
    --admin "https://127.0.0.1:$port" --admin-ca "$pki/tls/admin-ca.pem" \
    --token-file "$pki/admin/operator.token" --otp-file "$work/otp/$office.$user.otp" </dev/null
}

# e2e_kaigoweb_office WORK PKI OFFICE COMMAND...: the stand-in's office client as national office
# OFFICE (one login; `batch` reads many commands from stdin on that one session).
e2e_kaigoweb_office() {
  local work="$1" pki="$2" office="$3"
  shift 3
  "$BIN_KAIGOWEB_OFFICE" --pki "$pki" --port "$KAIGOWEB_PORT" --office "$office" \
    --otp-dir "$work/otp" "$@"
}

# e2e_kaigoweb_offices WORK PKI: `kakehashi kaigoweb offices kaigoweb` (each office's state) of
# the running gateway, as "OFFICE_NO STATE ..." lines.
e2e_kaigoweb_offices() {
  local work="$1" pki="$2" port
  port="$(e2e_admin_port "$work")" || return 4
  "$BIN_GATEWAY" kaigoweb offices kaigoweb --config "$work/kakehashi.json" \
    --admin "https://127.0.0.1:$port" --admin-ca "$pki/tls/admin-ca.pem" \
    --token-file "$pki/admin/operator.token" </dev/null
}
