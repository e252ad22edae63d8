#!/usr/bin/env bash
# `kakehashi run` between the regional network and the Kaigo WEB Service (issues 16 and 17), both
# stand-ins over real TLS on 127.0.0.1, the gateway with config/kakehashi.kaigoweb.example.json.
# Regional offices send with the regional office client (signed 4.1 units); national offices send
# with the Kaigo WEB office client (`batch`: one login per office for all its sends). The gateway
# acts for the regional offices with their own Kaigo WEB credentials; a person logs each one in at
# the start with `kakehashi kaigoweb login ... --otp-file` (the stand-in's OTP file).
#
# Scenarios (--scenario):
#   crash  units both ways while the gateway is SIGKILLed at random moments --kills times and
#          restarted (the crash test through this adapter, issue 16)
#   login  one office's refresh token lapses mid-run (its lifetimes shortened to seconds): its
#          traffic is held (nothing failed, nothing lost, the office told on its own network)
#          until a person completes the login; then everything arrives (PROTOCOL.md §7.3)
#   faults the Kaigo WEB stand-in's fault switches while units flow: cut answers, 500, 503, slow,
#          garbage, duplicate listings, a maintenance window with Retry-After
#   month  the quickstart's month (issue 17): plans, actuals and deletes both ways with a
#          maintenance window (6 s) while they are sent, the login scenario's lapse and person's
#          login, then a care-plan change (a plan again an hour later, same users), a plan with a
#          PDF attachment (delivered if the 5.0 model carries it, else refused back naming why)
#          and a broken unit (a one-field record added: refused at admission, REJECTED back at
#          its sender on the regional network)
#   outage while the regional offices send, the Kaigo WEB stand-in is killed (SIGKILL) and
#          started again on the same state file and port once the gateway has taken in every
#          unit sent meanwhile and raised network-unreachable; then, while the national offices
#          send, the regional stand-in likewise (the sessions are the stand-in's SQLite state:
#          no office needs a login again)
# Every scenario ends with the same checks: every unit meant to arrive once at its recipient (the Kaigo WEB
# stand-in's deliveries: one item per gateway reference; the regional stand-in's deliveries: one
# per message id; each recipient office got what was sent to it), nothing refused but what was
# meant to be, nothing parked,
# `kakehashi relay report` balanced with nothing in flight.
#   kaigoweb_test.sh --scenario S --work DIR --bin-gateway F --bin-kaigoweb F --bin-regional F
#     --bin-kaigoweb-office F --bin-regional-office F --bin-gen F [--pki DIR] [--units N]
#     [--kills K] [--deadline SECONDS] [--seed N]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
SCENARIO="" WORK="" PKI="" UNITS=40 KILLS=5 DEADLINE=600 SEED=$RANDOM
while [ $# -gt 0 ]; do
  case "$1" in
    --scenario) SCENARIO="$2" ;; --work) WORK="$2" ;; --pki) PKI="$2" ;; --units) UNITS="$2" ;;
    --kills) KILLS="$2" ;; --deadline) DEADLINE="$2" ;; --seed) SEED="$2" ;;
    --bin-gateway) BIN_GATEWAY="$2" ;; --bin-kaigoweb) BIN_KAIGOWEB="$2" ;;
    --bin-regional) BIN_REGIONAL="$2" ;; --bin-kaigoweb-office) BIN_KAIGOWEB_OFFICE="$2" ;;
    --bin-regional-office) BIN_REGIONAL_OFFICE="$2" ;; --bin-gen) BIN_GEN="$2" ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
case "$SCENARIO" in crash | login | faults | month | outage) ;; *) echo "--scenario crash|login|faults|month|outage" >&2; exit 2 ;; esac
LAPSES=0
case "$SCENARIO" in login | month) LAPSES=1 ;; esac
[ -n "$WORK" ] || { echo "--work DIR is required" >&2; exit 2; }
# The outage scenario sends units towards each network while it is down: a quarter of them at least 2.
[ "$SCENARIO" != outage ] || [ "$UNITS" -ge 8 ] || { echo "--scenario outage needs --units 8 or more" >&2; exit 2; }
PKI="${PKI:-$(dirname "$WORK")/pki}"
RANDOM=$SEED
END=$((SECONDS + DEADLINE))

REG_FAC=F-SHIMANE-01
REG_MANAGERS=(3271500013 3271500021)
# (3271500062 is SUSPENDED in the development directory: the refusals' office.)
REG_SERVICES=(3271500039 3271500047 3271500054)
NAT_MANAGERS=(1370100016 1370100024)
NAT_SERVICES=(1370100032 1371100452 1371100460 1371100478)
SERVICE_TYPES=" 11 13 15 17 78 "
GATEWAY_CN=kakehashi-gateway-regional-client
# The office whose login lapses in the login scenario (a care manager: it sends and receives).
LAPSING=3271500013

fail() {
  echo "FAIL: $*"
  exit 1
}
stop_all() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ -f "$WORK/gateway.log" ]; then
    echo "-- last gateway log lines ($WORK/gateway.log):"
    tail -n 25 "$WORK/gateway.log" || true
  fi
  e2e_cleanup
}
trap stop_all EXIT

gw() { "$BIN_GATEWAY" "$@" --config "$WORK/kakehashi.json"; }
regional_office() { "$BIN_REGIONAL_OFFICE" --port "$REGIONAL_PORT" --pki "$PKI" "$@" </dev/null; }

# ---- set-up --------------------------------------------------------------------------------------
e2e_prepare "$WORK" "$PKI"
mkdir -p "$WORK/units"
e2e_start_kaigoweb "$WORK" "$PKI"
e2e_start_kaigoweb_regional "$WORK" "$PKI"
e2e_write_kaigoweb_config "$WORK" "$PKI"
# A killed instance's leases must expire before its work is taken up again: keep that short here.
sed -i 's/"lease": "30s"/"lease": "5s"/' "$WORK/kakehashi.json"
# Units of an office that was already waiting for a login when they came are offered again after
# relay.office_recheck (default 5 min); the answer "held" is what sends the office its notice.
sed -i 's/"lease": "5s",/"lease": "5s", "office_recheck": "3s",/' "$WORK/kakehashi.json"
# The outage scenario waits for network-unreachable (default: after 15 min of failures, checked
# every minute): after 3 s here, checked every 500 ms.
if [ "$SCENARIO" = outage ]; then
  sed -i 's/"network_unreachable": "15m"/"network_unreachable": "3s", "check_every": "500ms"/' "$WORK/kakehashi.json"
  grep -q '"network_unreachable": "3s"' "$WORK/kakehashi.json" || fail "could not shorten admin.alerts.network_unreachable"
fi
e2e_start_gateway "$WORK"
echo "== kaigoweb $SCENARIO: Kaigo WEB :$KAIGOWEB_PORT, regional :$REGIONAL_PORT, $UNITS units (seed $SEED, work $WORK)"

# Every gateway office needs a person's login first (PROTOCOL.md §7.3). In the login scenario the
# lapsing office logs in while the stand-in hands out second-long lifetimes (§9 settings apply to
# tokens made from then on), the others after the defaults are back.
login_office() {
  local out
  out="$(e2e_kaigoweb_login "$WORK" "$PKI" "$1" 2>&1)" || fail "kakehashi kaigoweb login $1: $out"
}
if [ "$LAPSES" = 1 ]; then
  e2e_kaigoweb_admin "$PKI" POST /admin/v1/settings '{"access_ttl":3,"refresh_ttl":12}' >/dev/null
  login_office "$LAPSING"
  LAPSE_AT=$((SECONDS + 12))
  e2e_kaigoweb_admin "$PKI" POST /admin/v1/settings '{"access_ttl":3600,"refresh_ttl":28800}' >/dev/null
fi
for no in "${REG_MANAGERS[@]}" "${REG_SERVICES[@]}"; do
  [ "$LAPSES" = 1 ] && [ "$no" = "$LAPSING" ] && continue
  login_office "$no"
done
echo "  .. $(( ${#REG_MANAGERS[@]} + ${#REG_SERVICES[@]} )) regional offices logged in to Kaigo WEB with their one-time passwords"

# ---- units: generated, each readdressed to its own pair --------------------------------------------
# Of last month: the service takes target months from 12 back to 3 ahead (KW2201).
MONTH="$(date -u -d "$(date -u +%Y-%m-15) -1 month" +%Y%m)"
"$BIN_GEN" "$WORK/gen" --seed "$SEED" --units $((UNITS * 3 + 20)) --service-month "$MONTH" >/dev/null
NAME_RE='_([0-9A-Z]{10})_([0-9A-Z]{2})_([0-9A-Z]{10})_([0-9A-Z]{2})_([0-9]{14})'
# Plans (43 → a service type the directory lists) and actuals (the other way).
# In the order they were generated (by sequence), so the month's mix of kinds is what is played.
declare -A SEEN
TEMPLATES=()
for name in $(cd "$WORK/gen" && ls | awk -F_ '{print $NF " " $0}' | sort | cut -d' ' -f2); do
  [[ "$name" =~ $NAME_RE ]] || continue
  seq="${BASH_REMATCH[5]}" ft="${BASH_REMATCH[2]}" tt="${BASH_REMATCH[4]}"
  gfrom="${BASH_REMATCH[1]}" gto="${BASH_REMATCH[3]}"
  [ -z "${SEEN[$seq]:-}" ] || continue
  SEEN[$seq]=1
  [ "$gfrom" != "$gto" ] || continue
  if [ "$ft" = 43 ] && [[ "$SERVICE_TYPES" == *" $tt "* ]]; then kind=plan
  elif [ "$tt" = 43 ] && [[ "$SERVICE_TYPES" == *" $ft "* ]]; then kind=actuals
  else continue; fi
  # CSV files only, of the month: files naming a month name MONTH; units whose files name none
  # (the 1-3 tables of a care plan) take their target month from the sequence, which the
  # generator puts in MONTH too (--service-month).
  csv_only=1 other_month=0
  for g in "$WORK/gen"/*"_$seq"*; do
    [[ "$g" == *.CSV ]] || csv_only=0
    if [[ "$(basename "$g")" =~ _([0-9]{6})_[0-9A-Z]{10}_ ]] &&
      [ "${BASH_REMATCH[1]}" != "$MONTH" ] && [ "${BASH_REMATCH[1]}" != 000000 ]; then
      other_month=1
    fi
  done
  [ "$csv_only" = 1 ] && [ "$other_month" = 0 ] || continue
  TEMPLATES+=("$kind $seq $gfrom $ft $gto $tt")
done
if [ "$LAPSES" = 1 ]; then
  # Plans and actuals in turn, so the lapsing care manager both sends (odd units: its plans) and
  # receives (even units: actuals to it).
  PLANS=() ACTUALS=()
  for t in "${TEMPLATES[@]}"; do
    if [ "${t%% *}" = plan ]; then PLANS+=("$t"); else ACTUALS+=("$t"); fi
  done
  TEMPLATES=()
  for i in $(seq 0 $(((UNITS + 1) / 2 - 1))); do
    [ -n "${PLANS[$i]:-}" ] && [ -n "${ACTUALS[$i]:-}" ] || break
    TEMPLATES+=("${PLANS[$i]}" "${ACTUALS[$i]}")
  done
fi
[ "${#TEMPLATES[@]}" -ge "$UNITS" ] ||
  fail "the generator made ${#TEMPLATES[@]} CSV-only plan/actuals units for $UNITS (seed $SEED)"
# What is played, by the file kinds of each unit (UP1KYO…: a care plan, UPPLAN…: a plan, UPJSK:
# actuals, DLT…: a delete).
played="$(for t in "${TEMPLATES[@]:0:$UNITS}"; do
  read -r _ s _ <<<"$t"
  for g in "$WORK/gen"/*"_$s"*; do b="$(basename "$g")"; echo "${b%%_[0-9]*}"; done | sort -u | paste -sd+
done | sort | uniq -c | awk '{printf "%s%s × %s", sep, $1, $2; sep = ", "}')"
echo "  .. $UNITS units: $played"

# Every unit: N SEQ FROM TO DIRECTION(r2n|n2r) SOURCE_ID OUTCOME(deliver|refuse|either)
: >"$WORK/units.tsv"
# make_unit N FROM_NET FROM_OFFICE_HINT: unit N's files in WORK/units/N; sets U_FROM U_TO U_FT U_TT U_SEQ.
# Odd units go regional → national, even ones national → regional; plans from a care manager
# to a service office, actuals back; offices chosen round robin (in the login scenario every
# unit of two pairs involves the lapsing office).
make_unit() {
  local n="$1" kind seq gfrom ft gto tt dir f from to i
  read -r kind seq gfrom ft gto tt <<<"${TEMPLATES[$((n - 1))]}"
  if [ $((n % 2)) -eq 1 ]; then U_DIR=r2n; else U_DIR=n2r; fi
  i=$((n / 2))
  local rm="${REG_MANAGERS[$((i % ${#REG_MANAGERS[@]}))]}" rs="${REG_SERVICES[$((i % ${#REG_SERVICES[@]}))]}"
  local nm="${NAT_MANAGERS[$((i % ${#NAT_MANAGERS[@]}))]}" ns="${NAT_SERVICES[$((i % ${#NAT_SERVICES[@]}))]}"
  if [ "$LAPSES" = 1 ]; then
    if [ $(((n - 1) % 4)) -lt 2 ]; then rm="$LAPSING"; else rm="${REG_MANAGERS[1]}"; fi
  fi
  if [ "$U_DIR" = r2n ]; then
    if [ "$kind" = plan ]; then from="$rm" to="$ns"; else from="$rs" to="$nm"; fi
  else
    if [ "$kind" = plan ]; then from="$nm" to="$rs"; else from="$ns" to="$rm"; fi
  fi
  dir="$WORK/units/$n"
  mkdir -p "$dir"
  for f in "$WORK/gen"/*"_$seq"*; do
    LC_ALL=C sed -e "s/$gfrom/#1#/g; s/$gto/#2#/g; s/#1#/$from/g; s/#2#/$to/g" "$f" \
      >"$dir/$(basename "$f" | LC_ALL=C sed -e "s/$gfrom/#1#/; s/$gto/#2#/; s/#1#/$from/; s/#2#/$to/")"
  done
  U_FROM="$from" U_TO="$to" U_FT="$ft" U_TT="$tt" U_SEQ="$seq"
}

# send_units FIRST LAST [r2n|n2r]: regional units one call each; national units in one batch per
# office; only one direction when given.
send_units() {
  local n out id office
  declare -A batch
  for n in $(seq "$1" "$2"); do
    make_unit "$n"
    [ -z "${3:-}" ] || [ "$U_DIR" = "$3" ] || continue
    if [ "$U_DIR" = r2n ]; then
      out="$(regional_office send --facility "$REG_FAC" --office "$U_FROM" --type "$U_FT" \
        --to "$U_TO:$U_TT" --message-id "kwe-$SEED-$n" "$WORK/units/$n"/*)" ||
        fail "unit $n: the regional network refused it: $out"
      id="$(jq -r .id <<<"$out")"
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$U_SEQ" "$U_FROM" "$U_TO" r2n "$id" deliver >>"$WORK/units.tsv"
    else
      batch[$U_FROM]+="send $WORK/units/$n --reference office-$SEED-$n"$'\n'
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$U_SEQ" "$U_FROM" "$U_TO" n2r "office-$SEED-$n" deliver >>"$WORK/units.tsv"
    fi
  done
  for office in "${!batch[@]}"; do
    out="$(e2e_kaigoweb_office "$WORK" "$PKI" "$office" batch <<<"${batch[$office]}")" ||
      fail "national office $office: the Kaigo WEB stand-in refused a send: $(grep -v '"result":"OK"' <<<"$out" | head -3)"
  done
}

# ---- what arrived -----------------------------------------------------------------------------------
# The gateway's items at the Kaigo WEB stand-in (its references start kk1-): SENDER→RECIPIENT REF.
kaigoweb_deliveries() {
  e2e_kaigoweb_admin "$PKI" GET /admin/v1/deliveries |
    jq -r '.data.deliveries // .deliveries | .[] | select(.sender_reference | startswith("kk1-")) |
      "\(.sender.office_no)→\(.recipient.office_no) \(.sender_reference)"'
}
# The gateway member's messages at the regional stand-in, office notices left out: MESSAGE_ID.
regional_deliveries() {
  curl -sS --fail --max-time 20 --cacert "$PKI/tls/regional-ca.pem" \
    --cert "$PKI/tls/regional-standin-client.cert.pem" --key "$PKI/tls/regional-standin-client.key.pem" \
    "https://127.0.0.1:$REGIONAL_PORT/admin/v1/deliveries" |
    jq -r --arg gw "$GATEWAY_CN" '.deliveries[] | select(.sender == $gw) | .message_id'
}
# The regional offices' mailbox (the facility's members): FROM→TO per message.
regional_mailbox() {
  regional_office mailbox --since 0 --limit 500 |
    jq -r '.items[] | select(.message_id | startswith("kh-office-") | not) |
      "\(.from.office_no)→\(.to.office_no)"'
}
expected() { # DIRECTION [OFFICE]: FROM→TO of the units sent that way to be delivered
  awk -F'\t' -v d="$1" -v o="${2:-}" '$5 == d && $7 == "deliver" && (o == "" || $3 == o || $4 == o) {print $3 "→" $4}' "$WORK/units.tsv"
}
# The gateway's transfers refused other than as planned (units.tsv: refuse or either).
unplanned_refusals() {
  gw relay list --state rejected --json |
    jq -r --argjson planned "$(awk -F'\t' '$7 != "deliver" {print $6}' "$WORK/units.tsv" | jq -R . | jq -s .)" \
      '.[] | select(.source_id as $s | $planned | index($s) | not) |
       "\(.sender)→\(.recipient) (\(.direction)): \(.reason) \(.last_error)"'
}
count() { grep -c . || true; }
# Everything sent has arrived; a refusal fails at once, naming it.
arrived_all() {
  local refused
  refused="$(unplanned_refusals)"
  [ -z "$refused" ] || fail "refused by the gateway or a network: $refused"
  [ "$(kaigoweb_deliveries | count)" -ge "$(expected r2n | count)" ] &&
    [ "$(regional_deliveries | grep -v '^kh-office-' | count)" -ge "$(expected n2r | count)" ]
}
wait_for() { # WHAT COMMAND...
  local what="$1"
  shift
  while [ "$SECONDS" -lt "$END" ]; do
    "$@" && return 0
    sleep 0.5
  done
  fail "$what: not done within the deadline (${DEADLINE}s)"
}

# The month's traffic: every unit, with a maintenance window (503 S5030, Retry-After 2) of 6 s
# opening 4 s after the first send.
send_month() {
  send_units 1 "$UNITS" &
  local sender=$!
  E2E_PIDS+=("$sender")
  sleep 4
  e2e_kaigoweb_admin "$PKI" POST /admin/v1/faults '{"maintenance":true,"retry_after":2}' >/dev/null
  echo "  .. maintenance window opens"
  sleep 6
  e2e_kaigoweb_admin "$PKI" POST /admin/v1/faults '{"maintenance":false}' >/dev/null
  echo "  .. maintenance window closes"
  wait "$sender" || fail "sending the units failed"
}
# readdress TEMPLATE_SEQ GFROM GTO FROM TO NEWSEQ DIR: a generated unit's files for another pair
# and sequence.
readdress_unit() {
  local seq="$1" gfrom="$2" gto="$3" from="$4" to="$5" new="$6" dir="$7" f
  mkdir -p "$dir"
  for f in "${GEN_DIR:-$WORK/gen}"/*"_$seq"*; do
    LC_ALL=C sed -e "s/$gfrom/#1#/g; s/$gto/#2#/g; s/#1#/$from/g; s/#2#/$to/g; s/$seq/$new/g" "$f" \
      >"$dir/$(basename "$f" | LC_ALL=C sed -e "s/$gfrom/#1#/; s/$gto/#2#/; s/#1#/$from/; s/#2#/$to/; s/$seq/$new/")"
  done
}
# send_extra LABEL OUTCOME FROM FT TO TT DIR: one unit from a regional office, recorded in units.tsv.
send_extra() {
  local label="$1" outcome="$2" from="$3" ft="$4" to="$5" tt="$6" dir="$7" out id
  out="$(regional_office send --facility "$REG_FAC" --office "$from" --type "$ft" --to "$to:$tt" \
    --message-id "kwe-$SEED-$label" "$dir"/*)" || fail "$label: the regional network refused it: $out"
  id="$(jq -r .id <<<"$out")"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "-" "$from" "$to" r2n "$id" "$outcome" >>"$WORK/units.tsv"
  EXTRA_ID[$label]="$id"
}
later() { # SEQUENCE SECONDS: the sequence (YYYYMMDDhhmmss) that many seconds later
  local t
  t="$(date -u -d "${1:0:4}-${1:4:2}-${1:6:2} ${1:8:2}:${1:10:2}:${1:12:2}Z" +%s)"
  date -u -d "@$((t + $2))" +%Y%m%d%H%M%S
}
transfer_state() { gw relay list --json | jq -r --arg s "$1" '[.[] | select(.source_id == $s)][0] | .state // ""'; }
settled_extras() {
  local l st
  for l in change attachment broken; do
    st="$(transfer_state "${EXTRA_ID[$l]}")"
    [ "$st" = delivered ] || [ "$st" = rejected ] || return 1
  done
}
declare -A EXTRA_ID

# lapse_phase SEND...: the lapsing office needs a login; SEND... sends the units; the others'
# arrive while its own wait; then a person logs it in (login and month scenarios).
lapse_phase() {
  # The driver notices the lapse itself (refresh_expires_at passed, no call needed).
  office_needs_login() { e2e_kaigoweb_offices "$WORK" "$PKI" | grep -q "^$LAPSING  login_required"; }
  wait_for "office $LAPSING to need a login after its refresh token lapsed" office_needs_login
  echo "  .. $LAPSING: login_required $((SECONDS - t0)) s in (its refresh token lapsed)"
  "$@"
  others_arrived() {
    [ "$(kaigoweb_deliveries | grep -v "$LAPSING" | count)" -ge "$(expected r2n | grep -v "$LAPSING" | count)" ] &&
      [ "$(regional_mailbox | grep -v "$LAPSING" | count)" -ge "$(expected n2r | grep -v "$LAPSING" | count)" ]
  }
  wait_for "the other offices' units" others_arrived
  # Held, not failed: nothing of the lapsing office has reached either side, nothing was refused
  # or parked, no attempt counted for its outbound units, and it was told on its own network.
  [ "$(kaigoweb_deliveries | grep -c "$LAPSING" || true)" -eq 0 ] ||
    fail "a unit of $LAPSING reached Kaigo WEB while its login was needed"
  [ "$(regional_mailbox | grep -c "→$LAPSING" || true)" -eq 0 ] ||
    fail "a unit to $LAPSING was fetched from Kaigo WEB while its login was needed"
  held="$(gw relay list --json | jq --arg o "$LAPSING" \
    '[.[] | select(.direction == "regional->kaigoweb" and (.sender | startswith($o)))]')"
  [ "$(jq length <<<"$held")" -eq "$(expected r2n "$LAPSING" | count)" ] ||
    fail "$(jq length <<<"$held") of $(expected r2n "$LAPSING" | count) units of $LAPSING taken in by the gateway"
  [ "$(jq '[.[] | select(.state != "accepted" or .attempts != 0)] | length' <<<"$held")" -eq 0 ] ||
    fail "units of $LAPSING not simply waiting: $(jq -c '[.[] | {state, attempts}]' <<<"$held")"
  [ "$(gw relay list --state rejected --json | jq length)" -eq 0 ] || fail "a unit was refused while $LAPSING waited"
  # The notice goes to the office on its own network (where its units came from). The regional
  # adapter cannot address an office yet (notice_not_supported, logged office-notice-refused):
  # what is checked here is that the engine queued it there.
  notice_queued() {
    grep -q '"event":"office-notice-queued","network":"kaigoweb","office":"'"$LAPSING"'","told_on":"regional"' "$WORK/gateway.log"
  }
  wait_for "the notice to $LAPSING queued on the regional network" notice_queued
  alert_raised() { grep -q '"alert":"office-login-required","subject":"kaigoweb/'"$LAPSING" "$WORK/gateway.log"; }
  wait_for "the office-login-required alert naming $LAPSING" alert_raised
  echo "  .. $(jq length <<<"$held") unit(s) of $LAPSING held (accepted, 0 attempts), $(expected n2r "$LAPSING" | count) to it waiting at Kaigo WEB; the others delivered; alert raised, notice queued on the regional network ($((SECONDS - t0)) s)"
  # A person completes the login with the code the stand-in "sent"; traffic resumes by itself.
  login_office "$LAPSING"
  echo "  .. $LAPSING logged in again with its one-time password"
}

# ---- the outage scenario ------------------------------------------------------------------------------
# The stand-ins killed (connections refused) and started again on the same state file and port.
kaigoweb_down() {
  kill -KILL "$KAIGOWEB_PID" 2>/dev/null || true
  wait "$KAIGOWEB_PID" 2>/dev/null || true
}
kaigoweb_up() { e2e_start_kaigoweb "$WORK" "$PKI" --port "$KAIGOWEB_PORT"; }
regional_down() {
  kill -KILL "$REGIONAL_PID" 2>/dev/null || true
  wait "$REGIONAL_PID" 2>/dev/null || true
}
regional_up() {
  e2e_start_regional "$WORK" regional "$PKI" "$REGIONAL_PORT"
  REGIONAL_PID="$(cat "$WORK/regional.pid")"
}
# Transfers of a direction (e.g. regional->kaigoweb) in a state ("" for any).
transfers() { gw relay list --json --limit 100000 | jq --arg d "$1" --arg s "${2:-}" '[.[] | select(.direction == $d and ($s == "" or .state == $s))] | length'; }
# outage_phase NETWORK DIRECTION(r2n|n2r) DOWN UP SEND...: NETWORK is killed (DOWN), SEND...
# sends units of DIRECTION from the other side; while NETWORK is
# down the gateway takes every one of them in (durable accept: the other network is told they
# are accepted), none reaches NETWORK, none is refused or parked, and it raises
# network-unreachable for NETWORK. Then NETWORK comes back (UP) and the alert clears.
outage_phase() {
  local net="$1" dir="$2" down="$3" up="$4" from direction before raised cleared t_down
  shift 4
  if [ "$dir" = r2n ]; then from=regional; else from=kaigoweb; fi
  direction="$from->$net"
  before="$(transfers "$direction")"
  raised='"event":"alert","alert":"network-unreachable","subject":"'"$net"'"'
  cleared='"event":"alert-cleared","alert":"network-unreachable","subject":"'"$net"'"'
  "$down"
  t_down=$SECONDS
  echo "  .. the $net stand-in killed (SIGKILL) $((SECONDS - t0)) s in"
  "$@"
  local sent
  sent="$(awk -F'\t' -v d="$dir" '$5 == d' "$WORK/units.tsv" | count)"
  taken_in() { [ "$(transfers "$direction")" -ge "$sent" ]; }
  wait_for "the gateway to take in the units sent towards $net while it is down" taken_in
  # Alerts are logged when they start and when they clear: active while raised more often than
  # cleared (it may have been raised before the kill already, by a send whose answer was lost).
  alert_active() {
    [ "$(grep -c "$raised" "$WORK/gateway.log" || true)" -gt "$(grep -c "$cleared" "$WORK/gateway.log" || true)" ]
  }
  wait_for "the network-unreachable alert for $net" alert_active
  # Down all along: every unit taken in while it was down is still waiting (accepted), none
  # refused, none parked.
  local waiting
  waiting="$(transfers "$direction" accepted)"
  [ "$waiting" -ge $((sent - before)) ] ||
    fail "$((sent - before)) unit(s) towards $net taken in while it was down, only $waiting waiting (accepted)"
  [ "$(gw relay list --state rejected --json | jq length)" -eq 0 ] || fail "a unit was refused while $net was down"
  [ "$(gw relay list --state parked --json | jq length)" -eq 0 ] || fail "a unit was parked while $net was down"
  "$up"
  echo "  .. the $net stand-in back on :$( [ "$net" = kaigoweb ] && echo "$KAIGOWEB_PORT" || echo "$REGIONAL_PORT") after $((SECONDS - t_down)) s; $((sent - before)) unit(s) towards it taken in meanwhile, $waiting waiting, network-unreachable raised, none refused or parked"
  alert_cleared() { ! alert_active; }
  wait_for "the network-unreachable alert for $net to clear" alert_cleared
  echo "  .. network-unreachable for $net cleared ($((SECONDS - t0)) s)"
}
# No office needs a login after the Kaigo WEB stand-in's restart: its sessions are in its SQLite
# state, and the gateway's tokens stay valid.
sessions_kept() {
  local states
  states="$(e2e_kaigoweb_offices "$WORK" "$PKI")" || fail "kakehashi kaigoweb offices: $states"
  local no
  for no in "${REG_MANAGERS[@]}" "${REG_SERVICES[@]}"; do
    grep -Eq "^$no +active" <<<"$states" ||
      fail "office $no is not active after the Kaigo WEB stand-in's restart: $(grep "^$no" <<<"$states")"
  done
  echo "  .. every office's session still active after the Kaigo WEB stand-in's restart (no login needed)"
}

rc=0
t0=$SECONDS
# ---- the scenario -------------------------------------------------------------------------------------
case "$SCENARIO" in
  crash)
    send_units 1 "$UNITS" &
    SENDER_PID=$!
    E2E_PIDS+=("$SENDER_PID")
    # Random moments 1.5-8 s apart, while the units are sent and relayed (sending 40 units takes
    # about a minute under ASan).
    for k in $(seq 1 "$KILLS"); do
      ms=$((1500 + RANDOM % 6500))
      sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
      kill -KILL "$GATEWAY_PID" 2>/dev/null || true
      wait "$GATEWAY_PID" 2>/dev/null || true
      echo "  .. SIGKILL $k/$KILLS after ${ms} ms; restarting the gateway"
      e2e_start_gateway "$WORK"
    done
    wait "$SENDER_PID" || fail "sending the units failed"
    ;;
  faults)
    # The national offices send first: the faults hit every /kaigo/ call, their client's too.
    send_units 1 "$UNITS" n2r
    send_units 1 "$UNITS" r2n &
    SENDER_PID=$!
    E2E_PIDS+=("$SENDER_PID")
    # The stand-in's switches (PROTOCOL.md §9), one every 3 s while units are sent and relayed:
    # answers cut after the item is stored (ambiguous sends: the sent check must find them),
    # requests closed unread, 500s, 503s with Retry-After, slow answers, garbage and
    # wrong-shaped JSON, list pages repeating items, and a maintenance window.
    FAULTS=(
      '{"drop":2,"only":"POST /kaigo/careplan/v1/sent-items"}'
      '{"reset_before":2,"only":"POST /kaigo/careplan/v1/sent-items"}'
      '{"status":500,"code":"S5000","count":4,"only":""}'
      '{"delay_ms":1500}'
      '{"delay_ms":0,"malformed":3,"only":""}'
      '{"duplicate_listings":6,"only":""}'
      '{"status":503,"code":"S5031","count":4,"retry_after":1,"only":""}'
      '{"envelope_garbage":3,"only":""}'
      '{"maintenance":true,"retry_after":2}'
      '{"maintenance":false}'
      '{"drop":2,"only":""}'
      '{"duplicate_listings":6,"only":""}'
    )
    for f in "${FAULTS[@]}"; do
      sleep 3
      e2e_kaigoweb_admin "$PKI" POST /admin/v1/faults "$f" >/dev/null || fail "the stand-in refused the fault $f"
      echo "  .. fault $f"
    done
    wait "$SENDER_PID" || fail "sending the units failed"
    # The faults reached the gateway: a send whose answer was cut was checked in the sent list,
    # and garbage answers were seen (the rest varies with timing; the log has it).
    faults_seen() {
      grep -q '"event":"sent-check"' "$WORK/gateway.log" && grep -q '"event":"garbled-answer"' "$WORK/gateway.log"
    }
    wait_for "the gateway to meet an ambiguous send and a garbled answer" faults_seen
    ;;
  login)
    lapse_phase send_units 1 "$UNITS"
    ;;
  month)
    lapse_phase send_month
    ;;
  outage)
    HALF=$((UNITS / 2))
    # Phase 1: the national offices' units first (at Kaigo WEB, fetched and relayed), then the
    # regional offices' first half; once one of these has reached Kaigo WEB the stand-in is
    # killed (the others may be on their way) and the second half is sent while it is down.
    QUARTER=$((HALF / 2))
    send_units 1 "$HALF" n2r
    send_units 1 "$QUARTER" r2n
    one_relayed() { [ "$(kaigoweb_deliveries | count)" -ge 1 ]; }
    wait_for "a first regional unit at Kaigo WEB" one_relayed
    outage_phase kaigoweb r2n kaigoweb_down kaigoweb_up send_units $((QUARTER + 1)) "$HALF" r2n
    wait_for "every unit of the first phase at its recipient" arrived_all
    echo "  .. phase 1: every unit arrived ($((SECONDS - t0)) s)"
    sessions_kept
    # Phase 2: the regional offices' units first, then the regional stand-in is killed and the
    # national offices send theirs while it is down.
    send_units $((HALF + 1)) "$UNITS" r2n
    outage_phase regional n2r regional_down regional_up \
      send_units $((HALF + 1)) "$UNITS" n2r
    ;;
esac

wait_for "every unit at its recipient" arrived_all
echo "  .. every unit arrived ($((SECONDS - t0)) s)"

# ---- the month's end: a change, an attachment, a broken unit ----------------------------------------
if [ "$SCENARIO" = month ]; then
  t1=$SECONDS
  FROM_M="${REG_MANAGERS[1]}"
  # A care-plan change: unit 3 (a plan of FROM_M, delivered) again an hour later, same users.
  read -r _ seq gfrom ft gto tt <<<"${TEMPLATES[2]}"
  to3="$(awk -F'\t' '$1 == 3 {print $4}' "$WORK/units.tsv")"
  readdress_unit "$seq" "$gfrom" "$gto" "$FROM_M" "$to3" "$(later "$seq" 3600)" "$WORK/units/change"
  send_extra change deliver "$FROM_M" "$ft" "$to3" "$tt" "$WORK/units/change"
  # A broken unit: the change's files two hours later with a record of one field added to a CSV:
  # refused at admission, back to its sender.
  readdress_unit "$seq" "$gfrom" "$gto" "$FROM_M" "$to3" "$(later "$seq" 7200)" "$WORK/units/broken"
  printf 'broken\r\n' >>"$(ls "$WORK/units/broken"/*.CSV | head -1)"
  send_extra broken refuse "$FROM_M" "$ft" "$to3" "$tt" "$WORK/units/broken"
  # A plan with a PDF attachment: delivered if the 5.0 model carries it, else refused back to
  # its sender naming why.
  # The month's units may hold none (the generator attaches PDFs to units of any kind and
  # month): then units of further seeds are generated beside them until one does.
  find_attachment() { # DIR: sets att="SEQ FROM TO" and att_tt of a plan of MONTH with a PDF
    local f
    att=""
    for f in "$1"/*.pdf "$1"/*.PDF; do
      [ -f "$f" ] && [[ "$(basename "$f")" =~ $NAME_RE ]] || continue
      aseq="${BASH_REMATCH[5]}" aft="${BASH_REMATCH[2]}" att_tt="${BASH_REMATCH[4]}"
      [ "$aft" = 43 ] && [[ "$SERVICE_TYPES" == *" $att_tt "* ]] || continue
      ls "$1"/*"_${MONTH}_"*"_$aseq"* >/dev/null 2>&1 || continue
      att="$aseq ${BASH_REMATCH[1]} ${BASH_REMATCH[3]}"
      return 0
    done
    return 1
  }
  GEN_DIR="$WORK/gen"
  for extra in $(seq 1 40); do
    find_attachment "$GEN_DIR" && break
    GEN_DIR="$WORK/gen-attachment"
    rm -rf "$GEN_DIR"
    "$BIN_GEN" "$GEN_DIR" --seed "$((SEED + extra))" --units 60 --service-month "$MONTH" >/dev/null
  done
  [ -n "$att" ] || find_attachment "$GEN_DIR" ||
    fail "the generator made no plan with a PDF attachment of $MONTH (seeds $SEED to $((SEED + 40)))"
  read -r aseq agfrom agto <<<"$att"
  GEN_DIR="$GEN_DIR" readdress_unit "$aseq" "$agfrom" "$agto" "$FROM_M" "${NAT_SERVICES[0]}" "$aseq" "$WORK/units/attachment"
  unset GEN_DIR
  send_extra attachment either "$FROM_M" 43 "${NAT_SERVICES[0]}" "$att_tt" "$WORK/units/attachment"
  wait_for "the change, the broken unit and the attachment to be settled" settled_extras
  [ "$(transfer_state "${EXTRA_ID[change]}")" = delivered ] || fail "the care-plan change was not delivered"
  [ "$(transfer_state "${EXTRA_ID[broken]}")" = rejected ] || fail "the broken unit was not refused"
  reason_of() { gw relay list --json | jq -r --arg s "$1" '[.[] | select(.source_id == $s)][0] | "\(.reason) \(.last_error)"'; }
  echo "  .. the change delivered; the broken unit refused: $(reason_of "${EXTRA_ID[broken]}" | cut -c1-160)"
  if [ "$(transfer_state "${EXTRA_ID[attachment]}")" = delivered ]; then
    sed -i 's/^\(attachment\t.*\t\)either$/\1deliver/' "$WORK/units.tsv"
    echo "  .. the plan with a PDF attachment delivered (the 5.0 model carries it)"
  else
    sed -i 's/^\(attachment\t.*\t\)either$/\1refuse/' "$WORK/units.tsv"
    [ -n "$(reason_of "${EXTRA_ID[attachment]}" | tr -d ' ')" ] || fail "the attachment unit was refused without a reason"
    echo "  .. the plan with a PDF attachment refused: $(reason_of "${EXTRA_ID[attachment]}" | cut -c1-160)"
  fi
  # The refusal reaches the sender on its own network.
  receipt_rejected() {
    regional_office receipts --since 0 | jq -e --arg id "${EXTRA_ID[broken]}" \
      '[.items[] | select(.id == $id and .state == "REJECTED")] | length == 1' >/dev/null
  }
  wait_for "the broken unit's rejection back at its sender" receipt_rejected
  wait_for "the change and the attachment at their recipient" arrived_all
  echo "  .. month's end settled, the broken unit's rejection back at $FROM_M ($((SECONDS - t1)) s)"
fi
echo "  .. checking once each"

# ---- the checks --------------------------------------------------------------------------------------
check_multiset() { # WHAT EXPECTED_LINES ACTUAL_LINES
  if [ "$(sort <<<"$2")" != "$(sort <<<"$3")" ]; then
    echo "FAIL: $1: sent and arrived differ (< sent, > arrived):"
    diff <(sort <<<"$2") <(sort <<<"$3") | grep '^[<>]' | head -10
    rc=1
  fi
}
kw="$(kaigoweb_deliveries)"
refs="$(awk '{print $2}' <<<"$kw")"
if [ "$(count <<<"$refs")" -ne "$(sort -u <<<"$refs" | count)" ]; then
  echo "FAIL: a gateway reference is at the Kaigo WEB stand-in more than once"
  rc=1
fi
check_multiset "regional → Kaigo WEB (the stand-in's deliveries)" "$(expected r2n)" "$(awk '{print $1}' <<<"$kw")"
reg="$(regional_deliveries | grep -v '^kh-office-' || true)"
if [ "$(count <<<"$reg")" -ne "$(sort -u <<<"$reg" | count)" ]; then
  echo "FAIL: a message id of the gateway is at the regional stand-in more than once"
  rc=1
fi
check_multiset "Kaigo WEB → regional (the offices' mailbox)" "$(expected n2r)" "$(regional_mailbox)"
refused="$(unplanned_refusals)"
[ -z "$refused" ] || { echo "FAIL: refused: $refused"; rc=1; }
n="$(gw relay list --state parked --json | jq length)"
[ "$n" -eq 0 ] || { echo "FAIL: $n transfer(s) parked"; rc=1; }
e2e_stop "$GATEWAY_PID" 60 || { echo "FAIL: the gateway exited with an error after SIGTERM"; rc=1; }
echo "-- kakehashi relay report:"
gw relay report || { echo "FAIL: the report does not balance"; rc=1; }
inflight="$(gw relay report --json | jq '[.. | objects | .in_flight? // empty] | add // 0')"
[ "$inflight" = 0 ] || { echo "FAIL: $inflight transfer(s) still in flight"; rc=1; }
echo "  regional → Kaigo WEB: $(expected r2n | count) sent, $(count <<<"$kw") items by the gateway ($(sort -u <<<"$refs" | count) references)"
echo "  Kaigo WEB → regional: $(expected n2r | count) sent, $(count <<<"$reg") messages by the gateway ($(sort -u <<<"$reg" | count) ids)"
if [ "$SCENARIO" = faults ]; then
  echo "  gateway log: $(grep -c '"event":"send-ambiguous"' "$WORK/gateway.log") ambiguous send(s), $(grep -c '"event":"sent-check"' "$WORK/gateway.log") sent check(s), $(grep -c '"event":"garbled-answer"' "$WORK/gateway.log") garbled answer(s), $(grep -c '"event":"poll-failed"' "$WORK/gateway.log") failed poll(s)"
fi
[ "$rc" -eq 0 ] && echo "== kaigoweb $SCENARIO: every unit once at its recipient, report balanced, nothing in flight ($SECONDS s)"
exit "$rc"
