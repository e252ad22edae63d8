#!/usr/bin/env bash
# tests/fuzz/make_seeds.sh [KAKEHASHI_GEN] — (re)writes the seed corpora under tests/fuzz/corpus/
# from real material: the golden samples, a few units from the generator (kakehashi_gen), the
# JSON examples of both PROTOCOL.md files, and files signed and encrypted with the test PKI in
# tests/fuzz/pki/ (openssl cms). Reproducers of fixed findings live in corpus/<target>/regress-*
# and are kept. Needs python3 and openssl; not run by CI (the corpora are committed).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
GEN="${1:-$ROOT/build/release/tests/careplan_gen/kakehashi_gen}"
C="$HERE/corpus"
PKI="$HERE/pki"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

for t in file_name csv_file careplan_unit standard5_unit standard5_json national_json regional_json \
  cms_signed cms_enveloped; do
  mkdir -p "$C/$t"
  find "$C/$t" -type f -name 'seed-*' -delete
done

# Care-plan material: golden samples (valid and faulty) and a generated month-end mix.
mkdir -p "$TMP/gen"
if [ -x "$GEN" ]; then "$GEN" "$TMP/gen" --seed 7 --units 8 >/dev/null; fi
python3 - "$ROOT/tests/golden/samples" "$TMP/gen" "$C" <<'PY'
import os, sys, collections
samples, gen, corpus = sys.argv[1], sys.argv[2], sys.argv[3]
dirs = [os.path.join(samples, 'valid'), os.path.join(samples, 'faulty'), gen]
def write(target, name, data):
    with open(os.path.join(corpus, target, 'seed-' + name), 'wb') as f:
        f.write(data)
names = set()
for d in dirs:
    units = collections.defaultdict(list)
    for n in sorted(os.listdir(d)):
        with open(os.path.join(d, n), 'rb') as f:
            data = f.read()
        names.add(n)
        tag = os.path.basename(d.rstrip('/'))
        write('csv_file', f'{tag}-{n}', n.encode() + b'\n' + data)
        parts = n.rsplit('.', 1)[0].split('_')
        seq = next((p for p in reversed(parts) if len(p) == 14 and p.isdigit()), n)
        units[seq].append(n.encode() + b'\n' + data)
    for seq, files in units.items():
        write('careplan_unit', f'{tag}-{seq}', b'\x1e'.join(files))
        write('standard5_unit', f'{tag}-{seq}', b'\x1e'.join(files))
extra = [
    'UPPLAN_202504_3271500017_3271500025_20250325104805.CSV',        # v3
    'UPPLAN_202504_3271500017_43_3271500025_11_20250325104805.csv',  # lower-case extension
    'hokensho_3271500013_43_1371100452_11_20250325104805.pdf',
    'a_b_3271500013_43_1371100452_11_20250325104805.JPEG',
    'UPKIHON_IMAGE_1370414417_46_1370441139_67_20250526141705_0001.JPG',
    'UPHOSOKU_000000_1370118042_43_1370111757_15_20250526140913.CSV',
    'UPSIKYU_202513_1370118042_43_1370111757_15_20251332256161.CSV',
    'memo.docx', '.CSV', 'UPPLAN_.CSV',
]
for n in sorted(names) + extra:
    write('file_name', n.replace('/', '_'), n.encode())
PY

# 5.0 documents: the golden units as the translation writes them (the standard5 test dumps them).
S5TEST="$(dirname "$GEN")/../mapping/standard5/kakehashi_standard5_test"
if [ -x "$S5TEST" ]; then
  KAKEHASHI_STANDARD5_DUMP_DIR="$C/standard5_json" "$S5TEST" \
    --run_test=golden_samples_round_trip_byte_identical >/dev/null
fi

# JSON bodies: the examples of PROTOCOL.md, completed into whole answers.
j() { printf '%s' "$2" >"$C/$1/seed-$3.json"; }
OFF='{"office_no":"3271500013","service_type":"43"}'
REC='{"office_no":"1370100016","service_type":"11"}'
j national_json '{"items":[{"transmission_id":"T0000000001","cursor":"aW5ib3g6MQ==","sender":'"$OFF"',"recipient":'"$REC"',"unit_kind":"K2","message":"来月分です","accepted_at":"2025-03-25T01:48:05.123Z","state":"WAITING","files":[{"name":"UPPLAN_202504_3271500013_43_1370100016_11_20250325104805.CSV","size":1234},{"name":"UPSIKYU_202504_3271500013_43_1370100016_11_20250325104805.CSV","size":99}]}],"next_cursor":"aW5ib3g6MQ==","has_more":true}' inbox
j national_json '{"updates":[{"transmission_id":"T0000000001","cursor":"dXBkYXRlczox","state":"DOWNLOADED","reason":"","at":"2025-03-25T01:48:05.123Z"},{"transmission_id":"T0000000002","cursor":"dXBkYXRlczoy","state":"REJECTED","reason":"CSV_FIELD_DATE 第6表 line 2","at":"2025-03-25T01:49:05.123Z"}],"next_cursor":"dXBkYXRlczoy","has_more":false}' updates
j national_json '{"offices":[{"office_no":"1370100016","service_types":["43","46"],"name":"ケアプランセンター青葉","kana":"ｹｱﾌﾟﾗﾝｾﾝﾀｰｱｵﾊﾞ","prefecture":"13","status":"ACTIVE","updated_at":"2025-03-01T00:00:00.000Z"},{"office_no":"1370100024","service_types":["11"],"name":"訪問介護さくら","kana":"ﾎｳﾓﾝｶｲｺﾞｻｸﾗ","prefecture":"13","status":"SUSPENDED","updated_at":"2025-03-02T00:00:00.000Z"}],"as_of":"2025-03-25T01:48:05.123Z","next_cursor":"b2ZmaWNlczoy","has_more":true}' offices
j national_json '{"token":"dG9rZW4tMTIz","expires_at":"2025-03-25T02:48:05.123Z","expires_in":3600,"principal":{"kind":"proxy","user_id":"KJ000000000001","office_no":""}}' session
j national_json '{"transmission_id":"T0000000003","state":"WAITING","accepted_at":"2025-03-25T01:48:05.123Z"}' transmission
j national_json '{"error":{"code":"maintenance","message":"scheduled maintenance","details":{"until":"2025-03-25T06:00:00Z"}}}' error
j national_json '/ncp/v1/inbox?cursor=aW5ib3g6MQ%3D%3D&limit=50' query
REGMSG='{"message_id":"m-20250325-0001","from":{"facility_id":"F-0001","office_no":"3271500013","service_type":"43"},"to":{"office_no":"1370100016","service_type":"11"},"service":"careplan","subject":"4月分 予定","body":"よろしくお願いします","documents":[{"filename":"UPPLAN_202504_3271500013_43_1370100016_11_20250325104805.CSV","media_type":"text/csv","content":"MQ==","signature":"MIIB"}]}'
j regional_json "$REGMSG" message
j regional_json '{"items":[{"sequence":1,"id":"r-1","message_id":"m-20250325-0001","from":{"facility_id":"F-0001","office_no":"3271500013","service_type":"43"},"to":{"office_no":"1370100016","service_type":"11"},"subject":"4月分","state":"UNREAD","received_at":"2025-03-25T01:48:05Z","document_count":1}],"next_since":1,"more":false}' mailbox
j regional_json '{"sequence":1,"id":"r-1","message_id":"m-20250325-0001","from":{"facility_id":"F-0001","office_no":"3271500013","service_type":"43"},"to":{"office_no":"1370100016","service_type":"11"},"subject":"4月分","body":"本文","state":"UNREAD","received_at":"2025-03-25T01:48:05Z","document_count":1,"documents":[{"filename":"UPPLAN_202504_3271500013_43_1370100016_11_20250325104805.CSV","media_type":"text/csv","content":"MQ==","signature":"MIIB"}]}' message-item
j regional_json '{"items":[{"sequence":3,"id":"r-9","message_id":"m-1","state":"REJECTED","reason":"CSV_ENCODING","at":"2025-03-25T01:48:05Z"},{"sequence":4,"id":"r-10","message_id":"m-2","state":"READ","at":"2025-03-25T01:49:05Z"}],"next_since":4,"more":true}' receipts
j regional_json '{"facilities":[{"facility_id":"F-0001","name":"まめ病院","kana":"ﾏﾒﾋﾞｮｳｲﾝ","prefecture":"32","external":false,"offices":[{"office_no":"3271500013","service_type":"43","name":"居宅介護支援まめ","kana":"ｷｮﾀｸ","prefecture":"32","status":"ACTIVE","updated_at":"2025-03-01T00:00:00Z"}]},{"facility_id":"X-GW","name":"Kakehashi","kana":"","prefecture":"","external":true,"published_by":"kakehashi","offices":[]}]}' directory
j regional_json '{"offices":[{"office_no":"1370100016","service_type":"11","name":"訪問介護さくら","kana":"ﾎｳﾓﾝｶｲｺﾞｻｸﾗ","prefecture":"13","status":"ACTIVE"}]}' external
j regional_json '{"id":"r-1","message_id":"m-20250325-0001","accepted_at":"2025-03-25T01:48:05Z"}' send-answer
j regional_json '{"error":{"code":"INVALID_DOCUMENT","message":"signature does not verify","field":"documents[0].signature","reason":"BAD_SIGNATURE","filename":"UPPLAN.CSV","office":"3271500013"}}' error

# CMS: attached and detached SignedData over real files, PEM form, a co-signed file, and
# EnvelopedData to the RSA and P-256 document certificates.
CSV="$ROOT/tests/golden/samples/valid/UPSIKYU_202506_0176028389_43_0176022390_13_20250526141040.CSV"
TXT="$ROOT/tests/golden/samples/valid/renraku_1471005965_46_1471024818_A6_20250526141846.txt"
sign() { openssl cms -sign -binary -md sha256 -signer "$PKI/$1.cert.pem" -inkey "$PKI/$1.key.pem" -outform DER "${@:2}"; }
sign office -nodetach -in "$CSV" -out "$C/cms_signed/seed-attached.der"
sign office-ec -nodetach -in "$TXT" -out "$C/cms_signed/seed-attached-ec.der"
sign office -in "$CSV" -out "$TMP/detached.der"
cat "$TMP/detached.der" "$CSV" >"$C/cms_signed/seed-detached.bin"
openssl cms -sign -binary -md sha256 -nodetach -signer "$PKI/office.cert.pem" -inkey "$PKI/office.key.pem" \
  -in "$TXT" -outform PEM -out "$C/cms_signed/seed-attached.pem"
openssl cms -resign -binary -md sha256 -inform DER -in "$C/cms_signed/seed-attached.der" \
  -signer "$PKI/recipient.cert.pem" -inkey "$PKI/recipient.key.pem" -outform DER -nodetach \
  -out "$C/cms_signed/seed-cosigned.der"
sign office -nodetach -noattr -in "$TXT" -out "$C/cms_signed/seed-noattr.der"
openssl cms -encrypt -binary -aes256 -in "$C/cms_signed/seed-attached.der" -outform DER \
  -recip "$PKI/recipient.cert.pem" -keyopt rsa_padding_mode:oaep -keyopt rsa_oaep_md:sha256 \
  -out "$C/cms_enveloped/seed-rsa-oaep.der"
openssl cms -encrypt -binary -aes256 -in "$C/cms_signed/seed-attached-ec.der" -outform DER \
  -recip "$PKI/recipient-ec.cert.pem" -out "$C/cms_enveloped/seed-ecdh.der"
openssl cms -encrypt -binary -aes256 -in "$C/cms_signed/seed-attached.der" -outform DER \
  -recip "$PKI/recipient.cert.pem" -recip "$PKI/recipient-ec.cert.pem" -out "$C/cms_enveloped/seed-both.der"
openssl cms -encrypt -binary -aes256 -in "$TXT" -outform DER -recip "$PKI/office.cert.pem" \
  -out "$C/cms_enveloped/seed-not-for-us.der"
for t in "$C"/*/; do echo "$(basename "$t"): $(find "$t" -type f | wc -l) files, $(du -sb "$t" | cut -f1) bytes"; done
