#!/usr/bin/env bash
# deploy/pki.sh [--regional-org ORG] [--regional-offices "NO ..."] [--kaigoweb-offices "NO ..."] DIR
# — create a development PKI for both networks and the Kaigo WEB Service with the openssl CLI.
#
# A second regional network (several regional networks on one gateway, README "Several regional
# networks") gets its own PKI in another DIR: --regional-org names its organisation (so its CAs'
# subjects differ from the first network's) and --regional-offices lists its office numbers
# (default: the six 32715000xx offices below).
#
# Idempotent: every file is made only when it is missing, so re-running keeps existing keys and
# certificates and fills in whatever is absent. Private keys are written with mode 0600.
# Layout (see mapping/cms/README.md):
#   DIR/national/, DIR/regional/, DIR/regional-stale/   trust domains loaded by kakehashi::pki
#   DIR/ca/<name>/                                        CA keys and `openssl ca` state (keep private)
#   DIR/gateway/                                          proxy (national) and member (regional) certs
#   DIR/tls/                                              TLS server/client certs (SAN 127.0.0.1, localhost)
#   DIR/admin/                                            admin listener tokens (tokens, *.token)
#   DIR/offices/<network>/<office_no>.{key,cert}.pem      office signing certs (serialNumber = office no)
#   DIR/cases/                                            expired, not yet valid, revoked, wrong key usage,
#                                                         rollover old/new, stale CRL
#   DIR/kaigoweb/                                         Kaigo WEB Service (adapters/kaigoweb/PROTOCOL.md §8):
#                                                         ca.pem, stand-in server and admin certs, offices/,
#                                                         cases/, credentials/<office_no>/, accounts, offices.json
set -euo pipefail

REG_ORG="Regional Care Network (dev)"
REGIONAL_OFFICES=(3271500013 3271500021 3271500039 3271500047 3271500054 3271500062)
KAIGOWEB_EXTRA=()
while [ $# -gt 1 ]; do
  case "$1" in
    --regional-org) REG_ORG="$2" ;;
    --regional-offices) read -r -a REGIONAL_OFFICES <<<"$2" ;;
    --kaigoweb-offices) read -r -a KAIGOWEB_EXTRA <<<"$2" ;;
    *) break ;;
  esac
  shift 2
done
if [ $# -ne 1 ] || [ "${#REGIONAL_OFFICES[@]}" -eq 0 ]; then
  echo "usage: $0 [--regional-org ORG] [--regional-offices \"NO ...\"] [--kaigoweb-offices \"NO ...\"] DIR" >&2
  exit 2
fi
umask 077
mkdir -p "$1"
DIR="$(cd "$1" && pwd)"

NATIONAL_OFFICES=(1370100016 1370100024 1370100032 1371100452 1371100460 1371100478)
# Offices used by the failure cases (regional network), all with valid check digits.
EXPIRED_OFFICE=3271500070
NOT_YET_VALID_OFFICE=3271500088
REVOKED_OFFICE=3271500096
WRONG_KU_OFFICE=3271500104
ROLLOVER_OLD_OFFICE=3271500112
ROLLOVER_NEW_OFFICE=3271500120
# How long the retiring regional CA (g0) stays accepted after the PKI is first made.
ROLLOVER_OVERLAP_DAYS=30

EXT="$DIR/ca/extensions.cnf"

iso_utc() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }
asn1_utc() { date -u -d "$1" +%Y%m%d%H%M%SZ; }

write_extensions() {
  mkdir -p "$DIR/ca"
  [ -f "$EXT" ] && return 0
  cat >"$EXT" <<'EOF'
[req]
distinguished_name = req_dn
prompt = no
[req_dn]

[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[office_sign]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[gateway_rsa]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation, keyEncipherment
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[gateway_ec]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation, keyAgreement
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[wrong_ku]
basicConstraints = critical, CA:FALSE
keyUsage = critical, keyEncipherment
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[tls_server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[tls_client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
}

# Sections added after the first release: appended to an existing extensions file once.
add_extensions() {
  grep -q '^\[kaigo_client\]' "$EXT" && return 0
  cat >>"$EXT" <<'EOF'

[kaigo_client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[kaigo_no_clientauth]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = emailProtection
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
}

# new_key PATH rsa|ec
new_key() {
  local path="$1" alg="$2"
  if [ ! -f "$path" ]; then
    mkdir -p "$(dirname "$path")"
    case "$alg" in
      rsa) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$path.tmp" 2>/dev/null ;;
      ec) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$path.tmp" 2>/dev/null ;;
      *) echo "unknown key type $alg" >&2; exit 1 ;;
    esac
    mv "$path.tmp" "$path"
  fi
  chmod 600 "$path"
}

# make_ca NAME "SUBJECT"
make_ca() {
  local name="$1" subj="$2" d="$DIR/ca/$1"
  mkdir -p "$d/newcerts"
  new_key "$d/key.pem" rsa
  if [ ! -f "$d/cert.pem" ]; then
    openssl req -new -x509 -key "$d/key.pem" -subj "$subj" -days 3650 -sha256 \
      -config "$EXT" -extensions ca_ext -out "$d/cert.pem.tmp"
    chmod 644 "$d/cert.pem.tmp"
    mv "$d/cert.pem.tmp" "$d/cert.pem"
  fi
  [ -f "$d/index.txt" ] || : >"$d/index.txt"
  [ -f "$d/serial" ] || openssl rand -hex 16 >"$d/serial"
  [ -f "$d/crlnumber" ] || echo 01 >"$d/crlnumber"
  if [ ! -f "$d/ca.cnf" ]; then
    cat >"$d/ca.cnf" <<EOF
[ca]
default_ca = ca_default
[ca_default]
dir = $d
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
certificate = \$dir/cert.pem
private_key = \$dir/key.pem
serial = \$dir/serial
crlnumber = \$dir/crlnumber
default_md = sha256
default_days = 730
default_crl_days = 30
policy = policy_any
unique_subject = no
email_in_dn = no
[policy_any]
countryName = optional
organizationName = optional
organizationalUnitName = optional
serialNumber = optional
commonName = supplied
EOF
  fi
  : "$name"
}

# issue CA OUT_PREFIX rsa|ec EXTENSION "SUBJECT" [extra openssl ca args...]
# Writes OUT_PREFIX.key.pem (0600) and OUT_PREFIX.cert.pem.
issue() {
  local ca="$1" out="$2" alg="$3" ext="$4" subj="$5"
  shift 5
  new_key "$out.key.pem" "$alg"
  [ -f "$out.cert.pem" ] && return 0
  openssl req -new -config "$EXT" -key "$out.key.pem" -subj "$subj" -out "$out.csr.tmp"
  openssl ca -batch -notext -preserveDN -config "$DIR/ca/$ca/ca.cnf" -extfile "$EXT" \
    -extensions "$ext" -in "$out.csr.tmp" -out "$out.cert.pem.tmp" "$@" 2>/dev/null
  rm -f "$out.csr.tmp"
  chmod 644 "$out.cert.pem.tmp"
  mv "$out.cert.pem.tmp" "$out.cert.pem"
}

# crl CA OUT [extra openssl ca args...]
crl() {
  local ca="$1" out="$2"
  shift 2
  [ -f "$out" ] && return 0
  mkdir -p "$(dirname "$out")"
  openssl ca -gencrl -config "$DIR/ca/$ca/ca.cnf" -out "$out.tmp" "$@" 2>/dev/null
  chmod 644 "$out.tmp"
  mv "$out.tmp" "$out"
}

office_subject() { # NETWORK_ORG OFFICE_NO
  echo "/C=JP/O=$1/OU=Care offices/serialNumber=$2/CN=Office $2"
}

write_domain() { # DOMAIN_DIR NAME POLICY MAX_AGE anchor-lines...
  local d="$1" name="$2" policy="$3" max_age="$4"
  shift 4
  mkdir -p "$d/anchors" "$d/crls"
  [ -f "$d/domain.conf" ] && return 0
  {
    echo "# Kakehashi trust domain (format: mapping/cms/README.md)"
    echo "name = $name"
    echo "crl_policy = $policy"
    echo "crl_max_age = $max_age"
    echo "office_rule = subject serialNumber"
    for a in "$@"; do echo "anchor = $a"; done
  } >"$d/domain.conf.tmp"
  chmod 644 "$d/domain.conf.tmp"
  mv "$d/domain.conf.tmp" "$d/domain.conf"
}

copy_public() { # SRC DST
  if [ ! -f "$2" ]; then
    mkdir -p "$(dirname "$2")"
    cp "$1" "$2.tmp"
    chmod 644 "$2.tmp"
    mv "$2.tmp" "$2"
  fi
}

write_extensions
add_extensions
NAT_ORG="National Care Plan Data Linkage System (dev)"
make_ca national-ca "/C=JP/O=$NAT_ORG/CN=National Care Plan CA (dev)"
make_ca regional-ca "/C=JP/O=$REG_ORG/CN=Regional Care Network CA G1 (dev)"
make_ca regional-ca-g0 "/C=JP/O=$REG_ORG/CN=Regional Care Network CA G0 (dev, retiring)"

# Gateway: proxy agent on the national network, member node on the regional one.
for alg in rsa ec; do
  issue national-ca "$DIR/gateway/proxy-$alg" "$alg" "gateway_$alg" \
    "/C=JP/O=$NAT_ORG/OU=Proxy agents/CN=Kakehashi gateway proxy ($alg)"
  issue regional-ca "$DIR/gateway/member-$alg" "$alg" "gateway_$alg" \
    "/C=JP/O=$REG_ORG/OU=Member nodes/CN=Kakehashi gateway member ($alg)"
done

# TLS: stand-ins and the gateway, each side issued by its network's CA.
for role in server client; do
  issue national-ca "$DIR/tls/national-standin-$role" ec "tls_$role" \
    "/C=JP/O=$NAT_ORG/CN=national-standin-$role"
  issue regional-ca "$DIR/tls/regional-standin-$role" ec "tls_$role" \
    "/C=JP/O=$REG_ORG/CN=regional-standin-$role"
  for alg in rsa ec; do
    issue national-ca "$DIR/tls/gateway-national-$role-$alg" "$alg" "tls_$role" \
      "/C=JP/O=$NAT_ORG/CN=kakehashi-gateway-national-$role"
    issue regional-ca "$DIR/tls/gateway-regional-$role-$alg" "$alg" "tls_$role" \
      "/C=JP/O=$REG_ORG/CN=kakehashi-gateway-regional-$role"
  done
done

# Admin listener (the "admin" section of the gateway config): its server certificate, client
# certificates for an operator and an auditor, and development bearer tokens: admin/tokens holds
# their SHA-256 (mode 0600), admin/operator.token and admin/auditor.token the tokens themselves.
make_ca admin-ca "/C=JP/O=Kakehashi/CN=Kakehashi admin CA (dev)"
issue admin-ca "$DIR/tls/admin-server" ec tls_server "/C=JP/O=Kakehashi/CN=kakehashi-admin"
for role in operator auditor; do
  issue admin-ca "$DIR/tls/admin-$role-client" ec tls_client "/C=JP/O=Kakehashi/OU=Admin/CN=$role"
done
mkdir -p "$DIR/admin"
if [ ! -f "$DIR/admin/tokens" ]; then
  {
    echo "# ROLE TOKEN-or-sha256:HEX NAME (development tokens made by deploy/pki.sh)"
    for role in operator auditor; do
      token="$(openssl rand -hex 24)"
      echo "$token" >"$DIR/admin/$role.token"
      echo "$role sha256:$(printf '%s' "$token" | openssl dgst -sha256 -r | cut -d' ' -f1) dev-$role"
    done
  } >"$DIR/admin/tokens.tmp"
  mv "$DIR/admin/tokens.tmp" "$DIR/admin/tokens"
fi

# Office signing certificates (RSA-2048; the first office of each network also gets a P-256 one).
for no in "${NATIONAL_OFFICES[@]}"; do
  issue national-ca "$DIR/offices/national/$no" rsa office_sign "$(office_subject "$NAT_ORG" "$no")"
done
for no in "${REGIONAL_OFFICES[@]}"; do
  issue regional-ca "$DIR/offices/regional/$no" rsa office_sign "$(office_subject "$REG_ORG" "$no")"
done
issue national-ca "$DIR/offices/national/${NATIONAL_OFFICES[0]}-ec" ec office_sign \
  "$(office_subject "$NAT_ORG" "${NATIONAL_OFFICES[0]}")"
issue regional-ca "$DIR/offices/regional/${REGIONAL_OFFICES[0]}-ec" ec office_sign \
  "$(office_subject "$REG_ORG" "${REGIONAL_OFFICES[0]}")"

# Failure cases (regional network).
issue regional-ca "$DIR/cases/expired" rsa office_sign "$(office_subject "$REG_ORG" $EXPIRED_OFFICE)" \
  -startdate "$(asn1_utc '-400 days')" -enddate "$(asn1_utc '-35 days')"
issue regional-ca "$DIR/cases/not-yet-valid" rsa office_sign \
  "$(office_subject "$REG_ORG" $NOT_YET_VALID_OFFICE)" \
  -startdate "$(asn1_utc '+30 days')" -enddate "$(asn1_utc '+400 days')"
issue regional-ca "$DIR/cases/wrong-key-usage" rsa wrong_ku "$(office_subject "$REG_ORG" $WRONG_KU_OFFICE)"
if [ ! -f "$DIR/cases/revoked.cert.pem" ]; then
  issue regional-ca "$DIR/cases/revoked" rsa office_sign "$(office_subject "$REG_ORG" $REVOKED_OFFICE)"
  openssl ca -config "$DIR/ca/regional-ca/ca.cnf" -revoke "$DIR/cases/revoked.cert.pem" \
    -crl_reason keyCompromise 2>/dev/null
  rm -f "$DIR/regional/crls/regional-ca.crl.pem" "$DIR/cases/stale.crl.pem"
fi
# Rollover: the same network's retiring CA (g0) and current CA (g1) each sign an office.
issue regional-ca-g0 "$DIR/cases/rollover-old" rsa office_sign \
  "$(office_subject "$REG_ORG" $ROLLOVER_OLD_OFFICE)"
issue regional-ca "$DIR/cases/rollover-new" rsa office_sign \
  "$(office_subject "$REG_ORG" $ROLLOVER_NEW_OFFICE)"

# CRLs: current ones (30 days) and a stale one (expired 3 days ago, issued 10 days ago).
crl national-ca "$DIR/national/crls/national-ca.crl.pem"
crl regional-ca "$DIR/regional/crls/regional-ca.crl.pem"
crl regional-ca-g0 "$DIR/regional/crls/regional-ca-g0.crl.pem"
crl regional-ca "$DIR/cases/stale.crl.pem" \
  -crl_lastupdate "$(asn1_utc '-10 days')" -crl_nextupdate "$(asn1_utc '-3 days')"

# Trust domains. Acceptance windows are fixed when the domain file is first written.
copy_public "$DIR/ca/national-ca/cert.pem" "$DIR/national/anchors/national-ca.pem"
write_domain "$DIR/national" national hard-fail 604800 "anchors/national-ca.pem - -"
for d in regional regional-stale; do
  copy_public "$DIR/ca/regional-ca/cert.pem" "$DIR/$d/anchors/regional-ca.pem"
  copy_public "$DIR/ca/regional-ca-g0/cert.pem" "$DIR/$d/anchors/regional-ca-g0.pem"
done
write_domain "$DIR/regional" regional hard-fail 604800 \
  "anchors/regional-ca.pem $(iso_utc '-1 day') -" \
  "anchors/regional-ca-g0.pem - $(iso_utc "+$ROLLOVER_OVERLAP_DAYS days")"
write_domain "$DIR/regional-stale" regional-stale hard-fail 604800 \
  "anchors/regional-ca.pem - -" "anchors/regional-ca-g0.pem - -"
copy_public "$DIR/cases/stale.crl.pem" "$DIR/regional-stale/crls/regional-ca.crl.pem"
copy_public "$DIR/regional/crls/regional-ca-g0.crl.pem" "$DIR/regional-stale/crls/regional-ca-g0.crl.pem"

# Kaigo WEB Service (adapters/kaigoweb/PROTOCOL.md §8): its CA and a second one for the wrong-CA
# case, the stand-in's server and admin certificates, one TLS client certificate per office
# (RSA-2048, clientAuth, subject serialNumber = office number), the refusal cases, and development
# credentials in the layout of the adapter's credentials_dir.
KW_ORG="Kaigo WEB Service (dev)"
KW="$DIR/kaigoweb"
make_ca kaigoweb-ca "/C=JP/O=$KW_ORG/CN=Kaigo WEB Service CA (dev)"
make_ca kaigoweb-ca-other "/C=JP/O=$KW_ORG/CN=Kaigo WEB Service other CA (dev)"
copy_public "$DIR/ca/kaigoweb-ca/cert.pem" "$KW/ca.pem"
issue kaigoweb-ca "$KW/standin-server" rsa tls_server "/C=JP/O=$KW_ORG/CN=kaigoweb-standin-server"
issue kaigoweb-ca "$KW/admin-client" rsa kaigo_client "/C=JP/O=$KW_ORG/CN=kaigoweb-standin-admin"
KW_OFFICES=()
for no in "${REGIONAL_OFFICES[@]}" "${NATIONAL_OFFICES[@]}" "${KAIGOWEB_EXTRA[@]}"; do
  case " ${KW_OFFICES[*]} " in *" $no "*) ;; *) KW_OFFICES+=("$no") ;; esac
done
is_national() { case " ${NATIONAL_OFFICES[*]} " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
for no in "${KW_OFFICES[@]}"; do
  issue kaigoweb-ca "$KW/offices/$no" rsa kaigo_client "$(office_subject "$KW_ORG" "$no")" -days 825
done
KW_FIRST="${REGIONAL_OFFICES[0]}"
issue kaigoweb-ca "$KW/cases/expired" rsa kaigo_client "$(office_subject "$KW_ORG" "$KW_FIRST")" \
  -startdate "$(asn1_utc '-400 days')" -enddate "$(asn1_utc '-35 days')"
issue kaigoweb-ca "$KW/cases/not-yet-valid" rsa kaigo_client "$(office_subject "$KW_ORG" "$KW_FIRST")" \
  -startdate "$(asn1_utc '+30 days')" -enddate "$(asn1_utc '+400 days')"
issue kaigoweb-ca "$KW/cases/expiring-60d" rsa kaigo_client "$(office_subject "$KW_ORG" "$KW_FIRST")" \
  -startdate "$(asn1_utc '-1 day')" -enddate "$(asn1_utc '+60 days')"
issue kaigoweb-ca-other "$KW/cases/other-ca" rsa kaigo_client "$(office_subject "$KW_ORG" "$KW_FIRST")"
issue kaigoweb-ca "$KW/cases/no-clientauth" rsa kaigo_no_clientauth \
  "$(office_subject "$KW_ORG" "$KW_FIRST")"

# Credentials of the offices the gateway acts for (every office but the national ones):
# credentials/<office_no>/{cert.pem,key.pem,user_id,password}, folders 0700, files 0600.
kw_user() { if is_national "$1"; then echo "office-$1"; else echo "kk-gw-$1"; fi; }
for no in "${KW_OFFICES[@]}"; do
  is_national "$no" && continue
  c="$KW/credentials/$no"
  mkdir -p "$c"
  chmod 700 "$KW/credentials" "$c"
  [ -f "$c/cert.pem" ] || cp "$KW/offices/$no.cert.pem" "$c/cert.pem"
  [ -f "$c/key.pem" ] || cp "$KW/offices/$no.key.pem" "$c/key.pem"
  [ -f "$c/user_id" ] || printf '%s' "$(kw_user "$no")" >"$c/user_id"
  [ -f "$c/password" ] || printf '%s' "$(openssl rand -hex 16)" >"$c/password"
  chmod 600 "$c/cert.pem" "$c/key.pem" "$c/user_id" "$c/password"
done
# The stand-in's accounts (--accounts FILE): OFFICE_NO:USER_ID:PASSWORD:sms, one line per office;
# an office added later gets its line appended, existing lines are kept.
if [ ! -f "$KW/accounts" ]; then
  echo "# OFFICE_NO:USER_ID:PASSWORD:email|sms (development accounts made by deploy/pki.sh)" >"$KW/accounts"
fi
chmod 600 "$KW/accounts"
for no in "${KW_OFFICES[@]}"; do
  grep -q "^$no:" "$KW/accounts" && continue
  if [ -f "$KW/credentials/$no/password" ]; then
    pw="$(cat "$KW/credentials/$no/password")"
  else
    pw="$(openssl rand -hex 16)"
  fi
  echo "$no:$(kw_user "$no"):$pw:sms" >>"$KW/accounts"
done
# The stand-in's office list (--offices FILE): every office above, ACTIVE, with the service
# types the generated units use. Public data, written again from the list on each run.
{
  echo '{"offices":['
  sep=""
  for no in "${KW_OFFICES[@]}"; do
    printf '%s{"office_no":"%s","service_types":["43","46","11","12","13","14","15","16","17","78"],"name":"Office %s","kana":"オフィス","prefecture":"%s","status":"ACTIVE"}\n' \
      "$sep" "$no" "$no" "${no:0:2}"
    sep=","
  done
  echo ']}'
} >"$KW/offices.json.tmp"
chmod 644 "$KW/offices.json.tmp"
mv "$KW/offices.json.tmp" "$KW/offices.json"

# Convenience bundles for TLS peers.
copy_public "$DIR/ca/national-ca/cert.pem" "$DIR/tls/national-ca.pem"
copy_public "$DIR/ca/regional-ca/cert.pem" "$DIR/tls/regional-ca.pem"
copy_public "$DIR/ca/admin-ca/cert.pem" "$DIR/tls/admin-ca.pem"

echo "development PKI ready in $DIR"
