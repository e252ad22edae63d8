#!/usr/bin/env python3
"""Relay benchmark (issue 8 "Benchmark", issue 7 audit on/off): the gateway between both stand-ins.

    tests/bench/relay/relay_bench.py --build build/relay-bench [--units 4000]
        [--runs sqlite/rsa/0/on,sqlite/ec/0/on/kaigoweb,...] [--work DIR] [--json FILE]

Each run is STORE/ALG/BACKLOG/AUDIT[/NATIONAL]: STORE sqlite|postgres, ALG rsa|ec (the gateway's
proxy key: co-signing, national decryption, translation receipts), BACKLOG units already accepted
in the store before the run (bulk SQL, terminal states plus 0.1 % in flight), AUDIT on|off
(off: the store's benchmark-only `benchmark_audit_off`), NATIONAL ncp (default: the NCP
stand-in, a proxy agent) or kaigoweb (the Kaigo WEB Service stand-in: 5.0 JSON, a session per
office, nothing signed; every regional office the gateway acts for logs in with its one-time
password through `kakehashi kaigoweb login` before the gateway is measured). PostgreSQL runs need PG* variables of
a scratch cluster: the script re-runs itself under pg_virtualenv when none is set.

The senders' side is done ahead of time: kakehashi-relay-pool signs (and, national side,
encrypts to the gateway) a pool of units and writes it into both stand-ins' state files, which
run with --bench (no checks on what the gateway delivers, pre-encrypted downloads). The gateway
then starts against a full inbox on both networks and relays everything; the figures come from
its own store (created_at = durable accept, finished_at = the destination accepted it) and
/proc of the gateway process. The crypto bound is `openssl speed -multi NPROC` measured in the
same invocation, before the runs.
Benchmark tooling: never part of CI.
"""

import argparse
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
E2E = os.path.join(ROOT, "tests", "e2e")
PROXY_USER = "KJ900000000001"
NATIONAL_OFFICES = ["1370100016", "1370100024", "1370100032", "1371100452", "1371100460", "1371100478"]
DEFAULT_RUNS = "sqlite/rsa/0/on,sqlite/rsa/0/off,sqlite/ec/0/on,sqlite/ec/0/off,sqlite/ec/1000000/on"
NATIONAL_TYPES = ("ncp", "kaigoweb")
# The Kaigo WEB stand-in's limits for a benchmark: far above what the gateway asks, so that the
# gateway's own client-side rate (set as high in its config) is what paces it.
KAIGOWEB_LIMITS = ["--rate-per-office", "100000", "--rate-burst", "100000",
                   "--auth-rate-per-minute", "10000", "--max-connections-per-office", "64"]


def parse_run(spec):
    parts = spec.split("/")
    if len(parts) == 4:
        parts.append("ncp")
    if len(parts) != 5 or parts[0] not in ("sqlite", "postgres") or parts[1] not in ("rsa", "ec") \
            or not parts[2].isdigit() or parts[3] not in ("on", "off") or parts[4] not in NATIONAL_TYPES:
        sys.exit(f"bad run {spec!r}: STORE/ALG/BACKLOG/AUDIT[/NATIONAL], e.g. sqlite/ec/0/on/kaigoweb")
    return parts
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ---- crypto bound ---------------------------------------------------------------------------

def openssl_speed(seconds, processes=None):
    """`openssl speed` of the gateway's key types. With processes (-multi) the rates are of all
    cores together, counted in elapsed time (the crypto bound); without, one process's rates per
    second of its own CPU time, which a loaded machine does not skew (the price of one operation)."""
    n = processes or 1
    multi = ["-multi", str(n)] if processes else []
    out = subprocess.run(["openssl", "speed"] + multi + ["-seconds", str(seconds),
                          "rsa2048", "ecdsap256", "ecdhp256"],
                         capture_output=True, text=True, check=True).stdout
    rsa = re.search(r"^rsa 2048 bits\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", out, re.M)
    ecdsa = re.search(r"^\s*256 bits ecdsa \(nistp256\)\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", out, re.M)
    ecdh = re.search(r"^\s*256 bits ecdh \(nistp256\)\s+\S+\s+([\d.]+)", out, re.M)
    if not (rsa and ecdsa and ecdh):
        raise RuntimeError("cannot parse openssl speed output:\n" + out[-2000:])
    return {"processes": n, "seconds": seconds,
            "rsa2048_sign_per_s": float(rsa.group(1)), "rsa2048_verify_per_s": float(rsa.group(2)),
            "ecdsap256_sign_per_s": float(ecdsa.group(1)), "ecdsap256_verify_per_s": float(ecdsa.group(2)),
            "ecdhp256_per_s": float(ecdh.group(1))}


def key_ms_per_unit(speed, alg, mix):
    """CPU ms one unit's private-key operations cost at one process's `openssl speed` rate (per
    second of CPU time): co-signatures, decryptions and the translation receipt."""
    one = speed["one_process"]
    sign = one["rsa2048_sign_per_s"] if alg == "rsa" else one["ecdsap256_sign_per_s"]
    decrypt = one["rsa2048_sign_per_s"] if alg == "rsa" else one["ecdhp256_per_s"]
    return 1000.0 * ((mix["cosign_ops_per_unit"] + mix["receipt_sign_ops_per_unit"]) / sign
                     + mix["decrypt_ops_per_unit"] / decrypt)


def crypto_bound(speed, alg, mix):
    """Units/s the machine's cores could do if the gateway did nothing but its private-key work.
    An RSA decryption costs one RSA private operation (as a signature); a P-256 decryption
    (ECDH key agreement) one ECDH derivation."""
    sign = speed["rsa2048_sign_per_s"] if alg == "rsa" else speed["ecdsap256_sign_per_s"]
    decrypt = speed["rsa2048_sign_per_s"] if alg == "rsa" else speed["ecdhp256_per_s"]
    per_unit = mix["cosign_ops_per_unit"] / sign + mix["decrypt_ops_per_unit"] / decrypt
    with_receipts = per_unit + mix["receipt_sign_ops_per_unit"] / sign
    return {"private_ops_per_unit": mix["cosign_ops_per_unit"] + mix["decrypt_ops_per_unit"],
            "units_per_s": 1.0 / per_unit,
            "private_ops_per_unit_with_receipts": mix["cosign_ops_per_unit"] + mix["decrypt_ops_per_unit"]
            + mix["receipt_sign_ops_per_unit"],
            "units_per_s_with_receipts": 1.0 / with_receipts}


# ---- processes ------------------------------------------------------------------------------

class Procs:
    def __init__(self):
        self.procs = []

    def start(self, name, argv, work, env=None):
        out = open(os.path.join(work, name + ".out"), "w")
        err = open(os.path.join(work, name + ".log"), "a")
        p = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        self.procs.append(p)
        return p

    def wait_port(self, p, work, name):
        path = os.path.join(work, name + ".out")
        for _ in range(600):
            with open(path) as f:
                m = re.search(r"^port=(\d+)", f.read(), re.M)
            if m:
                return int(m.group(1))
            if p.poll() is not None:
                raise RuntimeError(name + " exited before listening: see " + work)
            time.sleep(0.05)
        raise RuntimeError(name + " did not print its port")

    def stop(self, p, limit=60):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(limit)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return p.returncode

    def stop_all(self):
        for p in self.procs:
            self.stop(p, 20)


def start_standins(procs, bins, work, pki, national_state, regional_state, password, ntype="ncp"):
    if ntype == "kaigoweb":
        kw = os.path.join(pki, "kaigoweb")
        nat = procs.start("national", [bins["kaigoweb"], "--bench", "--pki", pki, "--state", national_state,
                                       "--accounts", os.path.join(kw, "accounts"),
                                       "--offices", os.path.join(kw, "offices.json"),
                                       "--otp-dir", os.path.join(work, "otp")] + KAIGOWEB_LIMITS, work)
    else:
        accounts = ["--account", f"{PROXY_USER}:{password}:proxy"]
        for i, no in enumerate(NATIONAL_OFFICES, 1):
            accounts += ["--account", f"KJ1000000000{i:02d}:month-{no}:office:{no}"]
        nat = procs.start("national", [bins["national"], "--bench", "--pki", pki, "--state", national_state,
                                       "--offices", os.path.join(E2E, "national_offices.json")] + accounts,
                          work)
    reg = procs.start("regional", [bins["regional"], "--bench", "--pki", pki, "--state", regional_state,
                                   "--seed-directory", os.path.join(E2E, "regional_directory.json")], work)
    return nat, reg, procs.wait_port(nat, work, "national"), procs.wait_port(reg, work, "regional")


# ---- the pool -------------------------------------------------------------------------------

def make_pool(args, bins, pki, alg, ntype="ncp"):
    d = os.path.join(args.work, f"pool-{ntype}-{alg}-{args.units}-{args.seed}")
    mix_file = os.path.join(d, "mix.json")
    if os.path.exists(mix_file):
        return d, json.load(open(mix_file))
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    procs = Procs()
    try:  # each stand-in once, to create its schema and seed its directory
        nat, reg, _, _ = start_standins(procs, bins, d, pki, os.path.join(d, "national.sqlite"),
                                        os.path.join(d, "regional.sqlite"), "pool", ntype)
        procs.stop(nat)
        procs.stop(reg)
    finally:
        procs.stop_all()
    log(f"== pool ({ntype}): {args.units} units, regional side signed by the offices, national side "
        + ("5.0 documents" if ntype == "kaigoweb" else f"signed and encrypted to proxy-{alg}"))
    t = time.time()
    out = subprocess.run([bins["pool"], "--pki", pki, "--gateway-alg", alg, "--units", str(args.units),
                          "--seed", str(args.seed), "--national-state", os.path.join(d, "national.sqlite"),
                          "--regional-state", os.path.join(d, "regional.sqlite"), "--national-type", ntype],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError("kakehashi-relay-pool failed: " + out.stderr[-2000:])
    mix = json.loads(out.stdout.strip().splitlines()[-1])
    log(f"   pool ready in {time.time() - t:.0f} s: {mix}")
    json.dump(mix, open(mix_file, "w"))
    return d, mix


# ---- gateway config and store ----------------------------------------------------------------

def kaigoweb_section(pki, nport, alg):
    """The national network as the Kaigo WEB Service (adapters/kaigoweb/PROTOCOL.md §7.9): the
    regional offices' credentials from the development PKI, the rate raised to the stand-in's."""
    return json.dumps({
        "type": "kaigoweb",
        "trust_domain": f"{pki}/national",
        "cosign": {"certificate_file": f"{pki}/gateway/proxy-{alg}.cert.pem",
                   "key_file": f"{pki}/gateway/proxy-{alg}.key.pem"},
        "settings": {"base_url": f"https://127.0.0.1:{nport}",
                     "tls": {"ca_file": f"{pki}/kaigoweb/ca.pem"},
                     "credentials_dir": f"{pki}/kaigoweb/credentials",
                     "poll_interval": "200ms", "page_size": 100, "timeout": "15s",
                     "max_connections_per_office": 8, "max_offices_in_flight": 8,
                     "rate": {"per_second": 1000, "burst": 1000}}}, indent=1)


def write_config(work, pki, nport, rport, store, alg, audit, sync, ntype="ncp"):
    text = open(os.path.join(ROOT, "config", "kakehashi.example.json")).read()
    text = (text.replace("@PKI@", pki).replace("@RUN@", work)
            .replace("@NATIONAL_PORT@", str(nport)).replace("@REGIONAL_PORT@", str(rport)))
    # The gateway's document key (co-signing, decryption, receipts); TLS keys stay as they are.
    text = text.replace("gateway/proxy-rsa.", f"gateway/proxy-{alg}.")
    if store == "postgres":
        store_json = '{"type": "postgres", "dsn": ""'
    else:
        store_json = f'{{"type": "sqlite", "path": "{work}/kakehashi.sqlite", "synchronous": "{sync}"'
    if audit == "off":
        store_json += ', "benchmark_audit_off": true'
    store_json += "}"
    text = re.sub(r'"store": \{[^}]*\}', lambda _: '"store": ' + store_json, text, count=1)
    if ntype == "kaigoweb":
        # The offices log in through the admin API (kakehashi kaigoweb login), so it stays.
        text = replace_section(text, "national", kaigoweb_section(pki, nport, alg))
    else:
        text = drop_section(text, "admin")  # the operators' console is not measured here
    path = os.path.join(work, "kakehashi.json")
    open(path, "w").write(text)
    return path


def section_span(text, key):
    """(start of `"key": {`, index after its closing brace) in the config text, or None."""
    start = text.find('"' + key + '": {')
    if start < 0:
        return None
    depth, i = 0, text.index("{", start)
    while True:
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
        if depth == 0:
            return start, i


def drop_section(text, key):
    """The config text without its `"key": {...},` section (balanced braces)."""
    span = section_span(text, key)
    if span is None:
        return text
    start, i = span
    while i < len(text) and text[i] in " \t\r\n,":
        i += 1
    return text[:start] + text[i:]


def replace_section(text, key, value_json):
    span = section_span(text, key)
    if span is None:
        raise RuntimeError(f"no {key} section in the example config")
    return text[:span[0]] + f'"{key}": ' + value_json + text[span[1]:]


def kaigoweb_logins(bins, pki, work, config, gw, deadline):
    """Every office the gateway acts for logs in: step 1 through the admin API (the stand-in
    writes the one-time password into its OTP file), the code read from that file."""
    port = None
    while port is None and time.time() < deadline:
        with open(os.path.join(work, "gateway.log")) as f:
            m = re.search(r'"event":"admin-listening".*?"port":"(\d+)"', f.read())
        if m:
            port = m.group(1)
        elif gw.poll() is not None:
            raise RuntimeError("the gateway exited: see " + os.path.join(work, "gateway.log"))
        else:
            time.sleep(0.1)
    if port is None:
        raise RuntimeError("no admin-listening line from the gateway")
    credentials = os.path.join(pki, "kaigoweb", "credentials")
    for office in sorted(os.listdir(credentials)):
        user = open(os.path.join(credentials, office, "user_id")).read().strip()
        otp = os.path.join(work, "otp", f"{office}.{user}.otp")
        out = subprocess.run([bins["gateway"], "kaigoweb", "login", "national", office, "--otp-file", otp,
                              "--config", config, "--admin", f"https://127.0.0.1:{port}",
                              "--token-file", os.path.join(pki, "admin", "operator.token")],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"login of {office} failed ({out.returncode}): {out.stderr.strip()[-500:]}")


class StoreSql:
    """The gateway's store, read (and pre-filled) with plain SQL: sqlite3 or psql."""

    def __init__(self, store, work):
        self.store = store
        self.path = os.path.join(work, "kakehashi.sqlite")

    def rows(self, sql):
        if self.store == "sqlite":
            c = sqlite3.connect(self.path, timeout=30)
            try:
                return [tuple(r) for r in c.execute(sql).fetchall()]
            finally:
                c.close()
        out = subprocess.run(["psql", "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                             capture_output=True, text=True, check=True).stdout
        return [tuple(None if v == "" else v for v in line.split("\t")) for line in out.splitlines() if line]

    def script(self, sql):
        if self.store == "sqlite":
            c = sqlite3.connect(self.path, timeout=30)
            try:
                c.executescript(sql)
            finally:
                c.close()
        else:
            subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True,
                           stdout=subprocess.DEVNULL)

    def reset_postgres(self):
        # Every table of the gateway's schema, whatever its version has.
        tables = [r[0] for r in self.rows("SELECT tablename FROM pg_tables WHERE schemaname = "
                                          "current_schema() AND tablename LIKE 'kh\\_%'")]
        if tables:
            self.script("DROP TABLE IF EXISTS " + ", ".join(tables) + " CASCADE")


def prefill(sql, n, now_ms):
    """n units already accepted: 99.9 % terminal (delivered with receipt, some rejected or
    superseded), 0.1 % in flight waiting for a retry a day away; four history records each.
    Synthetic offices (99xxxxxxxx) never share an ordering pair with the measured units.
    Payloads: the newest 5 % and the in-flight ones keep a 2 KiB sealed payload, older ones are
    purged (metadata and history stay), as after the retention period."""
    if n <= 0:
        return
    if sql.store == "sqlite":
        gen = f"WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < {n}) "
        src, hexpr, rnd = "g", "lower(hex(randomblob(32)))", "randomblob(2048)"
        fmt = "printf('99%08d', i % 4999)"
        fmt2 = "printf('98%08d', i % 4993)"
        seqfmt = "printf('2026%010d', i)"
    else:
        gen = ""
        src, hexpr = f"generate_series(1::bigint, {n}::bigint) AS g(i)", "md5(random()::text) || md5(random()::text)"
        rnd = "decode(repeat(md5(random()::text), 128), 'hex')"
        fmt = "'99' || lpad((i % 4999)::text, 8, '0')"
        fmt2 = "'98' || lpad((i % 4993)::text, 8, '0')"
        seqfmt = "'2026' || lpad(i::text, 10, '0')"
    span = 30 * 86400 * 1000  # accepted over the last 30 days
    created = f"({now_ms} - {span} + i * {span // n})"
    state = ("CASE WHEN i % 1000 = 0 THEN 'accepted' WHEN i % 50 = 1 THEN 'rejected' "
             "WHEN i % 97 = 3 THEN 'superseded' ELSE 'delivered' END")
    payload = f"CASE WHEN i % 1000 = 0 OR i > {n - n // 20} THEN {rnd} ELSE NULL END"
    sql.script(f"""
{gen}INSERT INTO kh_transfers (source_adapter, source_id, dest_adapter, direction, sender_office,
  sender_type, recipient_office, recipient_type, sequence, unit_kind, subject_key, state, attempts,
  next_attempt_at, remote_id, idempotency_key, receipt_state, reason, last_error, created_at,
  updated_at, finished_at, payload, outbound)
SELECT CASE WHEN i % 2 = 0 THEN 'regional' ELSE 'national' END, 'backlog-' || i,
  CASE WHEN i % 2 = 0 THEN 'national' ELSE 'regional' END,
  CASE WHEN i % 2 = 0 THEN 'regional->national' ELSE 'national->regional' END,
  {fmt}, '43', {fmt2}, '11', {seqfmt}, 'K2', 'K2:202605', {state},
  CASE WHEN i % 1000 = 0 THEN 3 ELSE 1 END,
  CASE WHEN i % 1000 = 0 THEN {now_ms} + 86400000 ELSE 0 END,
  CASE WHEN i % 1000 = 0 THEN NULL ELSE 'T' || i END, 'backlog-key-' || i,
  CASE WHEN i % 1000 = 0 THEN NULL ELSE 'DOWNLOADED' END,
  CASE WHEN i % 50 = 1 THEN 'FIELD_DATE UPJSK 2' ELSE NULL END,
  CASE WHEN i % 1000 = 0 THEN 'HTTP 503 maintenance' ELSE NULL END,
  {created}, {created} + 1500, CASE WHEN i % 1000 = 0 THEN NULL ELSE {created} + 1500 END,
  {payload}, NULL
FROM {src};
""")
    events = ""
    for k, kind in enumerate(["intake", "translation-receipt", "delivered", "receipt"]):
        events += (f"{gen}INSERT INTO kh_events (transfer_id, at, kind, detail, seq, actor, prev_hash, hash) "
                   f"SELECT i, {created} + {k * 500}, '{kind}', "
                   f"'{{\"checks\":\"ok\",\"signers\":\"serialNumber=9900000000 CN=Office\",\"n\":' || i || '}}', "
                   f"4 * (i - 1) + {k + 1}, 'gateway', {hexpr}, {hexpr} FROM {src};\n")
    sql.script(events)
    sql.script(f"UPDATE kh_meta SET value = '{4 * n} {'0' * 64} 0 {4 * n} {now_ms}' WHERE key = 'audit_head'")
    if sql.store == "postgres":
        sql.script("ANALYZE")
    else:
        sql.script("ANALYZE")


# ---- one run ---------------------------------------------------------------------------------

def proc_cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / CLK_TCK


def proc_rss_kib(pid):
    rss = hwm = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    return rss, hwm


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * (len(sorted_values) - 1)))))
    return sorted_values[k]


def one_run(args, bins, pki, spec, speed):
    store, alg, backlog, audit, ntype = parse_run(spec)
    backlog = int(backlog)
    name = "-".join([store, alg, str(backlog), audit, ntype])
    work = os.path.join(args.work, "run-" + name)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    pool, mix = make_pool(args, bins, pki, alg, ntype)
    for f in ("national.sqlite", "regional.sqlite"):
        shutil.copy(os.path.join(pool, f), os.path.join(work, f))
    password = "bench-" + str(os.getpid())
    password_file = os.path.join(work, "national-proxy.password")
    with open(os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(password)
    procs = Procs()
    sql = StoreSql(store, work)
    result = {"run": spec, "national": ntype, "store": store, "gateway_key": "RSA-2048" if alg == "rsa" else "ECDSA P-256",
              "backlog": backlog, "audit": audit, "units": mix["units"],
              "fsync": ("sqlite synchronous=" + args.sqlite_sync) if store == "sqlite"
              else "postgresql fsync=on synchronous_commit=on"}
    try:
        nat, reg, nport, rport = start_standins(procs, bins, work, pki, os.path.join(work, "national.sqlite"),
                                                os.path.join(work, "regional.sqlite"), password, ntype)
        config = write_config(work, pki, nport, rport, store, alg, audit, args.sqlite_sync, ntype)
        if store == "postgres":
            sql.reset_postgres()
        subprocess.run([bins["gateway"], "relay", "report", "--config", config], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # creates the schema
        if backlog:
            t = time.time()
            cache = os.path.join(args.work, f"backlog-{backlog}.sqlite")
            if store == "sqlite" and os.path.exists(cache):  # the same backlog, written once
                shutil.copy(cache, sql.path)
                for suffix in ("-wal", "-shm"):
                    if os.path.exists(sql.path + suffix):
                        os.remove(sql.path + suffix)
            else:
                prefill(sql, backlog, int(time.time() * 1000))
                if store == "sqlite":
                    sql.script("PRAGMA wal_checkpoint(TRUNCATE)")
                    shutil.copy(sql.path, cache)
            log(f"   backlog of {backlog} units ready in {time.time() - t:.0f} s")
        first_id = int(sql.rows("SELECT COALESCE(MAX(id), 0) FROM kh_transfers")[0][0])
        t0 = time.time()
        gw = procs.start("gateway", [bins["gateway"], "run", "--config", config], work)
        if ntype == "kaigoweb":
            t_login = time.time()
            kaigoweb_logins(bins, pki, work, config, gw, t0 + 60)
            result["logins_s"] = round(time.time() - t_login, 2)
        samples = []
        done = 0
        deadline = t0 + args.timeout
        while time.time() < deadline:
            time.sleep(0.5)
            if gw.poll() is not None:
                raise RuntimeError("the gateway exited: see " + os.path.join(work, "gateway.log"))
            rss, hwm = proc_rss_kib(gw.pid)
            done = int(sql.rows(f"SELECT COUNT(*) FROM kh_transfers WHERE id > {first_id} "
                                "AND state <> 'accepted'")[0][0])
            samples.append({"t": round(time.time() - t0, 2), "cpu_s": proc_cpu_s(gw.pid), "rss_kib": rss,
                            "hwm_kib": hwm, "finished": done})
            if done >= mix["units"]:
                break
        cpu = proc_cpu_s(gw.pid)
        rss, hwm = proc_rss_kib(gw.pid)
        standins_cpu = proc_cpu_s(nat.pid) + proc_cpu_s(reg.pid)
        procs.stop(gw)
        rows = sql.rows(f"SELECT created_at, finished_at, state FROM kh_transfers WHERE id > {first_id}")
        states = {}
        for r in rows:
            states[r[2]] = states.get(r[2], 0) + 1
        delivered = sorted((int(r[0]), int(r[1])) for r in rows if r[2] == "delivered" and r[1] is not None)
        finish = sorted(f for _, f in delivered)
        lat = sorted(f - c for c, f in delivered)
        result["states"] = states
        result["complete"] = states.get("delivered", 0) == mix["units"]
        if finish:
            # Sustained: the middle 80 % of deliveries (start-up and tail excluded).
            lo, hi = finish[len(finish) // 10], finish[(len(finish) * 9) // 10]
            mid = sum(1 for f in finish if lo <= f <= hi)
            first_accept = min(c for c, _ in delivered)
            result["units_per_s"] = round(mid / max((hi - lo) / 1000.0, 1e-3), 1)
            result["units_per_s_overall"] = round(len(finish) / max((finish[-1] - first_accept) / 1000.0, 1e-3), 1)
            result["latency_ms"] = {"p50": percentile(lat, 50), "p95": percentile(lat, 95),
                                    "p99": percentile(lat, 99), "max": lat[-1]}
        result["cpu_s"] = round(cpu, 2)
        result["cpu_ms_per_unit"] = round(1000.0 * cpu / max(len(finish), 1), 3)
        result["standins_cpu_ms_per_unit"] = round(1000.0 * standins_cpu / max(len(finish), 1), 3)
        # The split issue 21 asks for: private-key work priced by openssl speed, and the rest.
        key_ms = key_ms_per_unit(speed, alg, mix)
        result["key_ms_per_unit"] = round(key_ms, 3)
        result["rest_ms_per_unit"] = round(result["cpu_ms_per_unit"] - key_ms, 3)
        result["gateway_share_of_cpu"] = round(cpu / max(cpu + standins_cpu, 1e-9), 3)
        result["peak_rss_mib"] = round(hwm / 1024.0, 1)
        result["rss_mib_at_quartiles"] = [round(s["rss_kib"] / 1024.0, 1) for s in
                                          [samples[min(len(samples) - 1, (len(samples) * q) // 4)]
                                           for q in (1, 2, 3, 4)]] if samples else []
        result["wall_s"] = round(time.time() - t0, 1)
        bound = crypto_bound(speed, alg, mix)
        result["crypto_bound"] = {k: round(v, 2) for k, v in bound.items()}
        if "units_per_s" in result:
            result["fraction_of_crypto_bound"] = round(result["units_per_s"] / bound["units_per_s"], 3)
            result["fraction_of_crypto_bound_with_receipts"] = round(
                result["units_per_s"] / bound["units_per_s_with_receipts"], 3)
        json.dump(samples, open(os.path.join(work, "samples.json"), "w"))
    finally:
        procs.stop_all()
    return result


def table(results):
    head = ["run", "units/s", "p50 ms", "p95 ms", "p99 ms", "CPU ms/unit", "key ms", "rest ms",
            "stand-ins ms", "peak RSS MiB", "bound u/s", "of bound", "complete"]
    lines = [" | ".join(head), " | ".join("---" for _ in head)]
    for r in results:
        lat = r.get("latency_ms", {})
        lines.append(" | ".join(str(x) for x in [
            r["run"], r.get("units_per_s"), lat.get("p50"), lat.get("p95"), lat.get("p99"),
            r.get("cpu_ms_per_unit"), r.get("key_ms_per_unit"), r.get("rest_ms_per_unit"),
            r.get("standins_cpu_ms_per_unit"), r.get("peak_rss_mib"), round(r["crypto_bound"]["units_per_s"]),
            f'{100 * r.get("fraction_of_crypto_bound", 0):.0f} %', r.get("complete")]))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "relay-bench"))
    ap.add_argument("--work", default="/tmp/kakehashi-relay-bench")
    ap.add_argument("--units", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=20260601)
    ap.add_argument("--runs", default=DEFAULT_RUNS)
    ap.add_argument("--sqlite-sync", default="full", choices=["full", "normal"])
    ap.add_argument("--timeout", type=int, default=600, help="seconds per run at most")
    ap.add_argument("--speed-seconds", type=int, default=3)
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    args.work = os.path.abspath(args.work)
    runs = [r for r in args.runs.split(",") if r]
    if any(r.startswith("postgres/") for r in runs) and "PGHOST" not in os.environ and "PGPORT" not in os.environ:
        os.execvp("pg_virtualenv", ["pg_virtualenv", "--", sys.executable] + sys.argv)
    b = args.build
    bins = {"gateway": f"{b}/gateway/kakehashi", "national": f"{b}/tests/peers/national/kakehashi-national-standin",
            "regional": f"{b}/tests/peers/regional/kakehashi-regional-standin",
            "pool": f"{b}/tests/bench/kakehashi-relay-pool",
            "kaigoweb": f"{b}/tests/peers/kaigoweb/kakehashi-kaigoweb-standin"}
    for k, v in bins.items():
        if not os.access(v, os.X_OK):
            sys.exit(f"missing {k} binary {v}: build the targets kakehashi kakehashi-national-standin "
                     "kakehashi-regional-standin kakehashi-kaigoweb-standin kakehashi-relay-pool")
    os.makedirs(args.work, exist_ok=True)
    pki = os.path.join(args.work, "pki")
    if not os.path.exists(os.path.join(pki, "offices", "regional", "3271500062.cert.pem")):
        subprocess.run(["bash", os.path.join(ROOT, "deploy", "pki.sh"), pki], check=True, stdout=subprocess.DEVNULL)
    for alg, ntype in sorted({(parse_run(r)[1], parse_run(r)[4]) for r in runs}):
        make_pool(args, bins, pki, alg, ntype)
    log(f"== openssl speed -multi {os.cpu_count()} ({args.speed_seconds} s each)")
    speed = openssl_speed(args.speed_seconds, os.cpu_count() or 1)
    speed["one_process"] = openssl_speed(args.speed_seconds)
    log("   " + json.dumps(speed))
    load = os.getloadavg()
    results = []
    for spec in runs:
        log(f"== run {spec}")
        load_before = round(os.getloadavg()[0], 2)
        try:
            r = one_run(args, bins, pki, spec, speed)
        except Exception as e:  # one failed run does not lose the others
            r = {"run": spec, "error": str(e), "crypto_bound": {"units_per_s": 0}}
        r["loadavg_before"] = load_before
        r["loadavg_after"] = round(os.getloadavg()[0], 2)
        log("   " + json.dumps({k: v for k, v in r.items() if k != "crypto_bound"}))
        results.append(r)
        if args.json:  # after every run, so that an interrupted session keeps what it measured
            json.dump({"openssl_speed": speed, "results": results}, open(args.json, "w"), indent=1)
    doc = {"machine": {"cpus": os.cpu_count(), "loadavg_at_start": [round(x, 2) for x in load],
                       "openssl": subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip()},
           "openssl_speed": speed, "units_per_run": args.units, "results": results}
    if args.json:
        json.dump(doc, open(args.json, "w"), indent=1)
    print(json.dumps(doc, indent=1))
    print()
    print(table(results))


if __name__ == "__main__":
    main()
