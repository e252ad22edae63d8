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
