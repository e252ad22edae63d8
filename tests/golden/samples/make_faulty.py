#!/usr/bin/env python3
"""Rebuild faulty/ from valid/ (run by hand after valid/ is regenerated; see README.md)."""
import glob, os, shutil

here = os.path.dirname(os.path.abspath(__file__))
valid, faulty = os.path.join(here, "valid"), os.path.join(here, "faulty")
shutil.rmtree(faulty, ignore_errors=True)
os.makedirs(faulty)

def one(pattern):
    found = sorted(glob.glob(os.path.join(valid, pattern)))
    assert found, pattern
    return found[0]

def seq_of(path):
    return os.path.basename(path).rsplit("_", 1)[1].split(".")[0]

# 1: a 第6表 unit without its 第7表 (43 -> service: the 居宅 K2 unit)
plan = one("UPPLAN_*_43_*.CSV")
for f in glob.glob(os.path.join(valid, "*_" + seq_of(plan) + ".*")):
    if not os.path.basename(f).startswith(("UPSIKYU", "hokensho")):
        shutil.copy(f, faulty)

# 2: actuals: an unreal service date in record 2, a user-defined character in record 1
jsk = one("UPJSK_*_43_*.CSV")
recs = open(jsk, "rb").read().split(b"\r\n")
fields = recs[1].split(b",")
fields[9] = b"20250631"
recs[1] = b",".join(fields)
fields = recs[0].split(b",")
fields[6] = b'"\x8eR\xf0\x40"'
recs[0] = b",".join(fields)
open(os.path.join(faulty, os.path.basename(jsk)), "wb").write(b"\r\n".join(recs))

# 3: a plan delete whose "pdf" attachment is really a PNG image
dlt = one("DLT1KYO_*.CSV")
shutil.copy(dlt, faulty)
png = open(one("*.png"), "rb").read()
name = "hokensho_" + os.path.basename(dlt)[len("DLT1KYO_"):-len(".CSV")] + ".pdf"
open(os.path.join(faulty, name), "wb").write(png)

# 4: a file that is not a care-plan file at all
open(os.path.join(faulty, "memo.docx"), "wb").write(b"PK\x03\x04not really")

# 5: attachments alone, under a sequence no care-plan file carries
att = one("renraku_*.txt")
alone = os.path.basename(att).rsplit("_", 1)[0] + "_20250526235959.txt"
shutil.copy(att, os.path.join(faulty, alone))

# 6: the plan unit (K1): 補足 record 1 has another plan date, so it has no 第1表 parent and its
# 第1表 record no 補足 (LINK_ORPHAN / LINK_MISSING naming the other file); 第2表 record 1 names the
# grand-total office 9999999999 as a provider (FIELD_SPECIAL_VALUE, although its check digit passes)
kyo = one("UP1KYO_*.CSV")
for f in glob.glob(os.path.join(valid, "*_" + seq_of(kyo) + ".CSV")):
    base = os.path.basename(f)
    data = open(f, "rb").read()
    if base.startswith(("UPHOSOKU", "UP2KYO")):
        recs = data.split(b"\r\n")
        fields = recs[0].split(b",")
        if base.startswith("UPHOSOKU"):
            fields[3] = b"20000101"
        else:
            fields[16] = b"9999999999"
        recs[0] = b",".join(fields)
        data = b"\r\n".join(recs)
    open(os.path.join(faulty, base), "wb").write(data)
