#!/usr/bin/env bash
# Several regional networks on one gateway (issue 22, "What must be true"): the national stand-in,
# regional stand-in A and a second regional stand-in B (its own CAs, directory and offices), and
# `kakehashi run` with three networks (config/kakehashi.three-networks.example.json), all over real
# TLS on 127.0.0.1. Offices of each network send with the stand-ins' office clients:
#   1. units every way (A→national, national→A, A→B, B→A, B→national, national→B), each delivered
#      once and its receipt back to the sender;
#   2. a registry change while running: an office of B that the gateway publishes to A becomes a
#      member of A too (A's own, unflagged listing); after the next directory sync `kakehashi
#      registry show` has it native on both and units from national to it go to A (first in the
#      preference);
#   3. B down (its stand-in killed) and the gateway restarted meanwhile, so B's directory has not
#      answered in the new process: A ⇄ national keeps flowing; units towards B (sent ahead of the
#      A ⇄ national ones, in the same mailboxes) are taken in and wait in flight at the gateway,
#      awaiting their route (not refused, not parked, not holding back the units behind them), and
#      are delivered once when B is back; --restart-while-b-down 0 leaves the gateway running
#      (the units towards B then wait accepted, routed to B);
# and at the end: every unit once on the network and office it was meant for (the stand-ins'
# mailboxes and delivery logs), every receipt back, no refusal, `kakehashi relay report` balanced
# with nothing in flight, `kakehashi audit verify` intact.
#   three_networks_test.sh --work DIR --bin-gateway F --bin-national F --bin-regional F
#     --bin-national-office F --bin-regional-office F --bin-gen F [--pki DIR] [--pki-b DIR]
#     [--units N] [--deadline SECONDS] [--restart-while-b-down 1|0]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
WORK="" PKI="" PKI_B="" UNITS=2 DEADLINE=150 RESTART_WHILE_B_DOWN=1
while [ $# -gt 0 ]; do
  case "$1" in
    --work) WORK="$2" ;; --pki) PKI="$2" ;; --pki-b) PKI_B="$2" ;; --units) UNITS="$2" ;;
    --deadline) DEADLINE="$2" ;; --restart-while-b-down) RESTART_WHILE_B_DOWN="$2" ;;
    --bin-gateway) BIN_GATEWAY="$2" ;; --bin-national) BIN_NATIONAL="$2" ;;
    --bin-regional) BIN_REGIONAL="$2" ;; --bin-national-office) BIN_NATIONAL_OFFICE="$2" ;;
    --bin-regional-office) BIN_REGIONAL_OFFICE="$2" ;; --bin-gen) BIN_GEN="$2" ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
PKI="${PKI:-$(dirname "$WORK")/pki}"
PKI_B="${PKI_B:-$PKI-b}"
END=$((SECONDS + DEADLINE))

# The cast. A: the development PKI's regional offices (tests/e2e/regional_directory.json); B: its
# own offices (Fukui, prefecture 18) in its own PKI; national: the development national offices.
A_FAC=F-SHIMANE-01 B_FAC=F-FUKUI-01
A_MANAGER=3271500013 A_SERVICE=3271500039
N_MANAGER=1370100016 N_SERVICE=1370100032
B_MANAGER=1871100010 B_SERVICE=1871100028 JOINER=1871100036
B_OFFICES="$B_MANAGER $B_SERVICE $JOINER"
SERVICE_TYPES='["11","13","15","17","78"]'
declare -A NET_OF=([$A_MANAGER]=a [$A_SERVICE]=a [$N_MANAGER]=national [$N_SERVICE]=national
  [$B_MANAGER]=b [$B_SERVICE]=b [$JOINER]=b)
declare -A NAT_USER=([$N_MANAGER]=KJ100000000001 [$N_SERVICE]=KJ100000000003)
GATEWAY_CN=kakehashi-gateway-regional-client

fail() {
  echo "FAIL: $*"
  exit 1
}
B_PORT=""
stop_all() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ -f "$WORK/gateway.log" ]; then
    echo "-- last gateway log lines ($WORK/gateway.log):"
    tail -n 20 "$WORK/gateway.log" || true
  fi
  e2e_cleanup
}
trap stop_all EXIT

# ---- set-up: PKIs, trust, directories, stand-ins, gateway ----------------------------------
e2e_prepare "$WORK" "$PKI"
e2e_prepare_pki_b "$PKI_B" "$B_OFFICES"
mkdir -p "$WORK/domains" "$WORK/units" "$WORK/got"
# What each network trusts for what the gateway relays to it (README, "Several regional
# networks"): A the national and B's office CAs, B the national and A's, national A's and B's.
e2e_trust_domain "$WORK/domains/a-proxied" a-proxied "$PKI/national" "$PKI_B/regional"
e2e_trust_domain "$WORK/domains/b-proxied" b-proxied "$PKI/national" "$PKI/regional"
e2e_trust_domain "$WORK/domains/national-proxied" national-proxied "$PKI/regional" "$PKI_B/regional"

b_office() { # NO: a B office's directory entries (one per service type), as a JSON array
  local no="$1" types='["43"]'
  [ "$no" = "$B_MANAGER" ] || types="$SERVICE_TYPES"
  jq -n --arg no "$no" --argjson types "$types" \
    '[$types[] | {office_no: $no, service_type: ., name: ("福井事業所" + $no[6:]),
      kana: ("フクイ" + $no[6:]), status: "ACTIVE"}]'
}
jq -n --arg fac "$B_FAC" --arg gw "$GATEWAY_CN" \
  --argjson o1 "$(b_office "$B_MANAGER")" --argjson o2 "$(b_office "$B_SERVICE")" \
  --argjson o3 "$(b_office "$JOINER")" \
  '{members: [{cn: "regional-standin-client", facility_id: $fac},
              {cn: $gw, facility_id: "KAKEHASHI-GW", gateway: true}],
    facilities: [{facility_id: $fac, name: "ふくい在宅ケアネット会員施設群", kana: "フクイ",
                  prefecture: "18", offices: ($o1 + $o2 + $o3)}]}' >"$WORK/b_directory.json"
# The national office master: its own offices at first. The regional offices join it once the
# gateway represents them (below): listed there before that, on a fresh store they would be
# national offices to the registry and never published (config/README.md, represented_offices).
jq '.offices |= map(select(.office_no | startswith("13")))' "$E2E_DIR/national_offices.json" \
  >"$WORK/national_offices.json"
jq --argjson b "$(for no in $B_OFFICES; do b_office "$no"; done | jq -s 'add')" \
  '{offices: (map(select(.office_no | startswith("13") | not)) + [$b | group_by(.office_no)[] |
     {office_no: .[0].office_no, service_types: map(.service_type), name: .[0].name,
      kana: .[0].kana, prefecture: "18", status: "ACTIVE"}])}' \
  <(jq .offices "$E2E_DIR/national_offices.json") >"$WORK/national_represented.json"

E2E_NATIONAL_OFFICES="$WORK/national_offices.json"
E2E_NATIONAL_EXTRA="--proxied-domain $WORK/domains/national-proxied"
E2E_REGIONAL_EXTRA="--proxied-domain $WORK/domains/a-proxied"
e2e_start_standins "$WORK" "$PKI"
A_PORT="$REGIONAL_PORT"
start_b() {
  e2e_start_regional "$WORK" regional-b "$PKI_B" "${B_PORT:-0}" \
    --seed-directory "$WORK/b_directory.json" --proxied-domain "$WORK/domains/b-proxied"
  B_PORT="$E2E_STARTED_PORT"
}
start_b
sed -e "s|@PKI_B@|$PKI_B|g" -e "s|@PKI@|$PKI|g" -e "s|@RUN@|$WORK|g" \
  -e "s|@NATIONAL_PORT@|$NATIONAL_PORT|g" -e "s|@REGIONAL_A_PORT@|$A_PORT|g" \
  -e "s|@REGIONAL_B_PORT@|$B_PORT|g" "$E2E_ROOT/config/kakehashi.three-networks.example.json" \
  >"$WORK/kakehashi.json"
"$BIN_GATEWAY" config check "$WORK/kakehashi.json" >/dev/null
e2e_start_gateway "$WORK"
# The gateway represents A's and B's offices on the national side (its first sync publishes
# them); then the national office master lists them too, as the national system does for the
# offices a proxy represents: the gateway must take that listing as its own echo.
until grep -q '"event":"registry-synced".*"published":"national:[1-9]' "$WORK/gateway.log"; do
  [ "$SECONDS" -lt "$END" ] || fail "the gateway published nothing to the national side"
  sleep 0.1
done
curl -sS --fail --max-time 10 --cacert "$PKI/tls/national-ca.pem" \
  --cert "$PKI/tls/national-standin-client.cert.pem" --key "$PKI/tls/national-standin-client.key.pem" \
  -H 'Authorization: Admin admin' -H 'Content-Type: application/json' -X PUT \
  --data-binary "@$WORK/national_represented.json" "https://127.0.0.1:$NATIONAL_PORT/admin/v1/offices" \
  >/dev/null || fail "the national stand-in did not take the represented offices into its master"
echo "== three networks: national :$NATIONAL_PORT, A :$A_PORT, B :$B_PORT, $UNITS unit(s) per route and phase (work $WORK)"

# ---- units: generated once, readdressed per send -------------------------------------------
"$BIN_GEN" "$WORK/gen" --seed 22 --units 40 >/dev/null
NAME_RE='_([0-9A-Z]{10})_([0-9A-Z]{2})_([0-9A-Z]{10})_([0-9A-Z]{2})_([0-9]{14})'
# A template of each kind: a unit of CSV files only, from a care manager (43) to a service office
# of one of SERVICE_TYPES ("plan"), or the other way round ("actuals").
declare -A TEMPLATE_SEQ TEMPLATE_FROM TEMPLATE_TO
for f in "$WORK/gen"/*; do
  name="$(basename "$f")"
  [[ "$name" =~ $NAME_RE ]] || continue
  seq="${BASH_REMATCH[5]}" ft="${BASH_REMATCH[2]}" tt="${BASH_REMATCH[4]}"
  [ "${BASH_REMATCH[1]}" != "${BASH_REMATCH[3]}" ] || continue
  if [ "$ft" = 43 ] && [[ "$SERVICE_TYPES" == *"\"$tt\""* ]]; then kind=plan
  elif [ "$tt" = 43 ] && [[ "$SERVICE_TYPES" == *"\"$ft\""* ]]; then kind=actuals
  else continue; fi
  [ -z "${TEMPLATE_SEQ[$kind]:-}" ] || continue
  csv_only=1
  for g in "$WORK/gen"/*"_$seq"*; do [[ "$g" == *.CSV ]] || csv_only=0; done
  [ "$csv_only" = 1 ] || continue
  TEMPLATE_SEQ[$kind]="$seq" TEMPLATE_FROM[$kind]="${BASH_REMATCH[1]}_$ft"
  TEMPLATE_TO[$kind]="${BASH_REMATCH[3]}_$tt"
done
[ -n "${TEMPLATE_SEQ[plan]:-}" ] && [ -n "${TEMPLATE_SEQ[actuals]:-}" ] ||
  fail "the generator made no CSV-only plan and actuals units (seed 22)"

# Every unit sent: N SEQ FROM TO FROM_NET EXPECTED_NET SOURCE_ID LABEL
: >"$WORK/units.tsv"
UNIT_NO=0
# send_unit LABEL KIND FROM TO [EXPECTED_NET]: one unit from office FROM to office TO.
send_unit() {
  local label="$1" kind="$2" from="$3" to="$4" expect="${5:-${NET_OF[$4]}}"
  local src="${NET_OF[$3]}" dir seq ftype ttype f out id
  UNIT_NO=$((UNIT_NO + 1))
  # A sequence per unit (a date-time: 2025-05-28 10:00:00 plus the unit's number in seconds).
  seq="$(printf '20250528%02d%02d%02d' $((10 + UNIT_NO / 3600)) $((UNIT_NO / 60 % 60)) $((UNIT_NO % 60)))"
  ftype="${TEMPLATE_FROM[$kind]#*_}" ttype="${TEMPLATE_TO[$kind]#*_}"
  dir="$WORK/units/$UNIT_NO"
  mkdir -p "$dir"
  for f in "$WORK/gen"/*"_${TEMPLATE_SEQ[$kind]}"*; do
    # One step through placeholders no MS932 byte can form (the new sender may be the old
    # recipient): the generator's offices and sequence become this unit's.
    LC_ALL=C sed -e "s/${TEMPLATE_FROM[$kind]%_*}/#1#/g; s/${TEMPLATE_TO[$kind]%_*}/#2#/g" \
      -e "s/${TEMPLATE_SEQ[$kind]}/#3#/g; s/#1#/$from/g; s/#2#/$to/g; s/#3#/$seq/g" "$f" \
      >"$dir/$(basename "$f" | LC_ALL=C sed -e "s/${TEMPLATE_FROM[$kind]%_*}/#1#/; s/${TEMPLATE_TO[$kind]%_*}/#2#/" \
        -e "s/${TEMPLATE_SEQ[$kind]}/$seq/; s/#1#/$from/; s/#2#/$to/")"
  done
  case "$src" in
    national)
      out="$("$BIN_NATIONAL_OFFICE" --pki "$PKI" --port "$NATIONAL_PORT" --user "${NAT_USER[$from]}" \
        --password "month-$from" --office "$from" send "$dir")" || fail "$label: national refused: $out"
      id="$(jq -r .transmission_id <<<"$out")" ;;
    a | b)
      local port="$A_PORT" pki="$PKI" fac="$A_FAC"
      [ "$src" = a ] || port="$B_PORT" pki="$PKI_B" fac="$B_FAC"
      out="$("$BIN_REGIONAL_OFFICE" --port "$port" --pki "$pki" send --facility "$fac" --office "$from" \
        --type "$ftype" --to "$to:$ttype" --message-id "e2e3-$UNIT_NO" "$dir"/*)" ||
        fail "$label: network $src refused: $out"
      id="$(jq -r .id <<<"$out")" ;;
  esac
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$UNIT_NO" "$seq" "$from" "$to" "$src" "$expect" "$id" \
    "$label" >>"$WORK/units.tsv"
}

# send_route LABEL FROM_NET TO_NET N: N units, alternately plans and actuals.
send_route() {
  local label="$1" s="$2" d="$3" n="$4" i
  local -A manager=([a]=$A_MANAGER [national]=$N_MANAGER [b]=$B_MANAGER)
  local -A service=([a]=$A_SERVICE [national]=$N_SERVICE [b]=$B_SERVICE)
  for i in $(seq 1 "$n"); do
    if [ $((i % 2)) -eq 1 ]; then
      send_unit "$label" plan "${manager[$s]}" "${service[$d]}"
    else
      send_unit "$label" actuals "${service[$s]}" "${manager[$d]}"
    fi
  done
}

# ---- the recipients and the senders' receipts ------------------------------------------------
# Arrivals: NET ITEM_ID SEQ OFFICE; receipts: NET SOURCE_ID STATE.
: >"$WORK/arrivals.tsv"
: >"$WORK/receipts.tsv"
declare -A SINCE=([a]=0 [b]=0) RSINCE=([a]=0 [b]=0) CURSOR UCURSOR
B_UP=1

regional_office() { # NET ARGS...
  local net="$1"
  shift
  if [ "$net" = a ]; then
    "$BIN_REGIONAL_OFFICE" --port "$A_PORT" --pki "$PKI" "$@" </dev/null
  else
    "$BIN_REGIONAL_OFFICE" --port "$B_PORT" --pki "$PKI_B" "$@" </dev/null
  fi
}
national_office() { # OFFICE ARGS...
  local no="$1"
  shift
  "$BIN_NATIONAL_OFFICE" --pki "$PKI" --port "$NATIONAL_PORT" --user "${NAT_USER[$no]}" \
    --password "month-$no" --office "$no" "$@" </dev/null
}
seq_of_name() { [[ "$1" =~ $NAME_RE ]] && echo "${BASH_REMATCH[5]}"; }

# One round: the regional members read their mail, the national recipients download and
# acknowledge, and every sender collects its receipts.
pump() {
  local net out item id seq no names
  for net in a b; do
    [ "$net" = a ] || [ "$B_UP" = 1 ] || continue
    out="$(regional_office "$net" mailbox --since "${SINCE[$net]}")" || continue
    while IFS=$'\t' read -r item id no state; do
      [ -n "$id" ] || continue
      names="$(regional_office "$net" fetch "$id" | jq -r '.documents[].filename')" || return 0
      seq="$(seq_of_name "$(head -1 <<<"$names")")"
      if [ "$state" = UNREAD ]; then regional_office "$net" read "$id" >/dev/null || return 0; fi
      grep -q "^$net	$id	" "$WORK/arrivals.tsv" || printf '%s\t%s\t%s\t%s\n' "$net" "$id" "$seq" "$no" >>"$WORK/arrivals.tsv"
      SINCE[$net]="$item"
    done < <(jq -r '.items[] | [.sequence, .id, .to.office_no, .state] | @tsv' <<<"$out")
    out="$(regional_office "$net" receipts --since "${RSINCE[$net]}")" || continue
    while IFS=$'\t' read -r item id state; do
      [ -n "$id" ] || continue
      printf '%s\t%s\t%s\n' "$net" "$id" "$state" >>"$WORK/receipts.tsv"
      RSINCE[$net]="$item"
    done < <(jq -r '.items[] | [.sequence, .id, .state] | @tsv' <<<"$out")
  done
  for no in $N_MANAGER $N_SERVICE; do
    out="$(national_office "$no" inbox ${CURSOR[$no]:-})" || continue
    while IFS=$'\t' read -r id cursor name state; do
      [ -n "$id" ] || continue
      national_office "$no" fetch "$id" "$WORK/got/$id" >/dev/null || return 0
      if [ "$state" = WAITING ]; then national_office "$no" receipt "$id" DOWNLOADED >/dev/null || return 0; fi
      grep -q "^national	$id	" "$WORK/arrivals.tsv" ||
        printf 'national\t%s\t%s\t%s\n' "$id" "$(seq_of_name "$name")" "$no" >>"$WORK/arrivals.tsv"
      CURSOR[$no]="$cursor"
    done < <(jq -r '.items[] | [.transmission_id, .cursor, .files[0].name, .state] | @tsv' <<<"$out")
    out="$(national_office "$no" updates ${UCURSOR[$no]:-})" || continue
    while IFS=$'\t' read -r id cursor state; do
      [ -n "$id" ] || continue
      printf 'national\t%s\t%s\n' "$id" "$state" >>"$WORK/receipts.tsv"
      UCURSOR[$no]="$cursor"
    done < <(jq -r '.updates[] | [.transmission_id, .cursor, .state] | @tsv' <<<"$out")
  done
}

arrivals_of() { awk -F'\t' -v s="$1" '$3 == s' "$WORK/arrivals.tsv" | wc -l; }
# settled N: unit N arrived (at least once) and its sender has its read/download receipt.
settled() {
  local n="$1" seq src id
  IFS=$'\t' read -r _ seq _ _ src _ id _ < <(awk -F'\t' -v n="$n" '$1 == n' "$WORK/units.tsv")
  [ "$(arrivals_of "$seq")" -ge 1 ] &&
    grep -qE "^$src	$id	(READ|DOWNLOADED)$" "$WORK/receipts.tsv"
}
all_settled() { # FIRST LAST
  local n
  for n in $(seq "$1" "$2"); do settled "$n" || return 1; done
}
# wait_for WHAT COMMAND...: pumps until COMMAND succeeds; fails at the deadline.
wait_for() {
  local what="$1"
  shift
  while [ "$SECONDS" -lt "$END" ]; do
    pump
    "$@" && return 0
    sleep 0.2
  done
  fail "$what: not done within the deadline (${DEADLINE}s)"
}

gw() { "$BIN_GATEWAY" "$@" --config "$WORK/kakehashi.json"; }
# registry_native OFFICE: the networks where the gateway's registry has OFFICE native.
registry_native() {
  gw registry show "$1" --json 2>/dev/null |
    jq -r '[.. | objects | select(has("network") and (.role? // "") == "native") | .network]
           | unique | join(",")' 2>/dev/null || true
}

# check_no_refusals WHEN: the running gateway's engine refused, parked and was refused nothing
# (its /metrics counters, per process) and raises no destination-refusal alert.
check_no_refusals() {
  local port metrics event value
  port="$(sed -n 's/.*"event":"admin-listening".*"port":"\([0-9]*\)".*/\1/p' "$WORK/gateway.log" | tail -1)"
  metrics="$(curl -sS --fail --max-time 10 --cacert "$PKI/tls/admin-ca.pem" \
    -H "Authorization: Bearer $(cat "$PKI/admin/operator.token")" "https://127.0.0.1:$port/metrics")" ||
    fail "the gateway's /metrics did not answer ($1)"
  for event in refused destination_refused parked; do
    value="$(sed -n "s/^kakehashi_engine_events_total{event=\"$event\"} \([0-9.e+]*\)$/\1/p" <<<"$metrics")"
    if [ "${value:-missing}" != 0 ]; then
      echo "FAIL: kakehashi_engine_events_total{event=\"$event\"} is ${value:-missing}, not 0 ($1)"
      rc=1
    fi
  done
  if grep -q '^kakehashi_alert_active{.*kind="destination-refusal".*} 1' <<<"$metrics"; then
    echo "FAIL: the destination-refusal alert is active ($1)"
    rc=1
  fi
}

rc=0
# ---- 1. units every way ------------------------------------------------------------------------
t0=$SECONDS
send_route "A→national" a national "$UNITS"
send_route "national→A" national a "$UNITS"
send_route "A→B" a b "$UNITS"
send_route "B→A" b a "$UNITS"
send_route "B→national" b national "$UNITS"
send_route "national→B" national b "$UNITS"
send_unit "national→joiner (B)" plan "$N_MANAGER" "$JOINER" b
PHASE1_LAST=$UNIT_NO
wait_for "every route once with its receipt" all_settled 1 "$PHASE1_LAST"
echo "  .. 1. $PHASE1_LAST units every way delivered, receipts back ($((SECONDS - t0)) s)"

# ---- 2. an office of B joins A while the gateway runs --------------------------------------------
t0=$SECONDS
[ "$(registry_native "$JOINER")" = "regional-b" ] ||
  fail "before joining A, the registry has $JOINER native on '$(registry_native "$JOINER")', not regional-b"
joined="$(jq --arg no "$JOINER" --argjson types "$SERVICE_TYPES" \
  '{facilities: [.facilities[0] | .offices += [$types[] | {office_no: $no, service_type: .,
     name: ("福井事業所" + $no[6:]), kana: ("フクイ" + $no[6:]), status: "ACTIVE"}]]}' \
  "$E2E_DIR/regional_directory.json")"
curl -sS --fail --max-time 10 --cacert "$PKI/tls/regional-ca.pem" \
  --cert "$PKI/tls/regional-standin-client.cert.pem" --key "$PKI/tls/regional-standin-client.key.pem" \
  -H 'Content-Type: application/json' -d "$joined" "https://127.0.0.1:$A_PORT/admin/v1/directory" \
  >/dev/null || fail "regional stand-in A did not take the directory change"
# Native on both, home A (first in the preference), and no longer published to A by the gateway.
joined_both() {
  [ "$(registry_native "$JOINER")" = "regional-a,regional-b" ] &&
    [ "$(gw registry show "$JOINER" --json | jq -r '[.[].home] | unique | join(",")')" = regional-a ] &&
    regional_office a directory | jq -e --arg no "$JOINER" \
      '[.facilities[] | select(.facility_id == "KAKEHASHI-GW") | .offices[] |
        select(.office_no == $no)] | length == 0' >/dev/null
}
wait_for "$JOINER native on A and B in the registry" joined_both
send_unit "national→joiner (A)" plan "$N_MANAGER" "$JOINER" a
wait_for "the unit to the joined office" settled "$UNIT_NO"
echo "  .. 2. $JOINER joined A: native on regional-a and regional-b, national→$JOINER now to A ($((SECONDS - t0)) s)"

# ---- 3. B down for a while ----------------------------------------------------------------------
t0=$SECONDS
b_pid="$(cat "$WORK/regional-b.pid")"
kill -KILL "$b_pid"
wait "$b_pid" 2>/dev/null || true
B_UP=0
if [ "$RESTART_WHILE_B_DOWN" = 1 ]; then
  # The gateway restarts while B is down: B's directory has not answered in the new process, and
  # the routes that do not depend on it must not wait for it (issue 22, first item).
  check_no_refusals "before the restart"
  e2e_stop "$GATEWAY_PID" 60 || fail "the gateway exited with an error after SIGTERM"
  e2e_start_gateway "$WORK"
fi
FIRST_TO_B=$((UNIT_NO + 1))
send_route "A→B (B down)" a b "$UNITS"
send_route "national→B (B down)" national b "$UNITS"
LAST_TO_B=$UNIT_NO
send_route "A→national (B down)" a national "$UNITS"
send_route "national→A (B down)" national a "$UNITS"
wait_for "A ⇄ national while B is down" all_settled $((LAST_TO_B + 1)) "$UNIT_NO"
# Meanwhile the units towards B wait: none has arrived anywhere, none came back refused to its
# sender, none is rejected or parked; each is in flight at the gateway: accepted towards B, or
# (after a restart while B is down, B's directory not answered yet) awaiting its route.
for n in $(seq "$FIRST_TO_B" "$LAST_TO_B"); do
  IFS=$'\t' read -r _ seq _ _ src _ id _ < <(awk -F'\t' -v n="$n" '$1 == n' "$WORK/units.tsv")
  [ "$(arrivals_of "$seq")" -eq 0 ] || fail "unit $n reached a mailbox while B was down"
  ! grep -q "^$src	$id	" "$WORK/receipts.tsv" || fail "unit $n came back to its sender while B was down"
done
for state in rejected parked; do
  n="$(gw relay list --state "$state" --json | jq length)"
  [ "$n" -eq 0 ] || fail "$n transfer(s) $state while B is down"
done
routed_to_b="$(gw relay list --state accepted --json |
  jq '[.[] | select(.destination_network == "regional-b")] | length')"
awaiting_route="$(gw relay list --state awaiting_route --json | jq length)"
waiting_at_gateway=$((routed_to_b + awaiting_route))
if [ "$waiting_at_gateway" -ne $((LAST_TO_B - FIRST_TO_B + 1)) ]; then
  fail "$waiting_at_gateway of $((LAST_TO_B - FIRST_TO_B + 1)) units towards B in flight at the gateway"
fi
if [ "$RESTART_WHILE_B_DOWN" = 1 ] && [ "$awaiting_route" -ne "$waiting_at_gateway" ]; then
  fail "$routed_to_b unit(s) routed to B before B's directory answered after the restart"
fi
down_for=$((SECONDS - t0))
start_b
B_UP=1
wait_for "everything towards B after B came back" all_settled "$FIRST_TO_B" "$LAST_TO_B"
restarted=""
[ "$RESTART_WHILE_B_DOWN" != 1 ] || restarted=", the gateway restarted meanwhile"
echo "  .. 3. B down ${down_for} s$restarted: A ⇄ national flowed; $((LAST_TO_B - FIRST_TO_B + 1)) units towards B waited at the gateway ($routed_to_b accepted towards B, $awaiting_route awaiting their route) and were delivered once B was back ($((SECONDS - t0)) s)"

# ---- the end: once each, on the right network, receipts, logs, counters, report, audit --------
wait_for "every unit and receipt" all_settled 1 "$UNIT_NO"
declare -A ROUTE_SENT ROUTE_OK
while IFS=$'\t' read -r n seq from to src expect id label; do
  route="$src→$expect"
  ROUTE_SENT[$route]=$((${ROUTE_SENT[$route]:-0} + 1))
  got="$(awk -F'\t' -v s="$seq" '$3 == s {print $1 ":" $4}' "$WORK/arrivals.tsv")"
  if [ "$got" != "$expect:$to" ]; then
    echo "FAIL: unit $n ($label, $from→$to, sequence $seq) arrived as '$(echo $got)', not once as $expect:$to"
    rc=1
  else
    ROUTE_OK[$route]=$((${ROUTE_OK[$route]:-0} + 1))
  fi
done <"$WORK/units.tsv"
# The stand-ins' own logs: each network got from the gateway exactly the units meant for it, each
# message (regional) or idempotency key (national) once.
regional_log() { # NET: the gateway member's deliveries on that network
  local port="$A_PORT" pki="$PKI"
  [ "$1" = a ] || port="$B_PORT" pki="$PKI_B"
  curl -sS --fail --max-time 10 --cacert "$pki/tls/regional-ca.pem" \
    --cert "$pki/tls/regional-standin-client.cert.pem" --key "$pki/tls/regional-standin-client.key.pem" \
    "https://127.0.0.1:$port/admin/v1/deliveries" |
    jq -r --arg gw "$GATEWAY_CN" '.deliveries[] | select(.sender == $gw) | .message_id'
}
national_log() { # the proxy's deliveries on the national side
  curl -sS --fail --max-time 10 --cacert "$PKI/tls/national-ca.pem" \
    --cert "$PKI/tls/national-standin-client.cert.pem" --key "$PKI/tls/national-standin-client.key.pem" \
    -H 'Authorization: Admin admin' "https://127.0.0.1:$NATIONAL_PORT/admin/v1/deliveries" |
    jq -r --arg proxy "$E2E_PROXY_USER" '.deliveries[] | select(.user_id == $proxy) | .idempotency_key'
}
declare -A LOG_COUNT
for net in a b national; do
  if [ "$net" = national ]; then keys="$(national_log)"; else keys="$(regional_log "$net")"; fi
  want="$(awk -F'\t' -v n="$net" '$6 == n' "$WORK/units.tsv" | wc -l)"
  have="$(grep -c . <<<"$keys" || true)"
  distinct="$(sort -u <<<"$keys" | grep -c . || true)"
  LOG_COUNT[$net]="$have"
  if [ "$have" -ne "$want" ] || [ "$distinct" -ne "$have" ]; then
    echo "FAIL: $net's delivery log has $have deliveries by the gateway ($distinct distinct) for $want units"
    rc=1
  fi
done
# The registry's only conflict is the joiner on A and B (the regional offices the national master
# lists after the gateway represents them are its echoes, not conflicts).
conflicts="$(gw registry conflicts --json | jq -r '[.[] | .kind + ":" + .office_no] | unique | join(" ")')"
if [ "$conflicts" != "on_both_networks:$JOINER" ]; then
  echo "FAIL: registry conflicts '$conflicts', expected only on_both_networks:$JOINER"
  rc=1
fi
check_no_refusals "at the end"
e2e_stop "$GATEWAY_PID" 60 || { echo "FAIL: the gateway exited with an error after SIGTERM"; rc=1; }
echo "-- kakehashi relay report:"
gw relay report || { echo "FAIL: the report does not balance"; rc=1; }
inflight="$(gw relay report --json | jq '[.. | objects | .in_flight? // empty] | add // 0')"
[ "$inflight" = 0 ] || { echo "FAIL: $inflight transfer(s) still in flight"; rc=1; }
gw audit verify >"$WORK/audit-verify.txt" 2>&1 || { echo "FAIL: kakehashi audit verify:"; cat "$WORK/audit-verify.txt"; rc=1; }

echo "-- per route: sent / delivered once with receipt"
for route in "a→national" "national→a" "a→b" "b→a" "b→national" "national→b"; do
  printf '  %-12s %3d / %3d\n' "$route" "${ROUTE_SENT[$route]:-0}" "${ROUTE_OK[$route]:-0}"
done
echo "  (national→b includes one unit to $JOINER before it joined A; national→a one after)"
echo "  deliveries by the gateway in the stand-ins' logs: A ${LOG_COUNT[a]}, B ${LOG_COUNT[b]}, national ${LOG_COUNT[national]}"
[ "$rc" -eq 0 ] && echo "== three networks: every unit once, every receipt back, report balanced, audit intact ($SECONDS s)"
exit "$rc"
