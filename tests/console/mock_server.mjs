// A stand-in for the admin listener (gateway/admin/API.md), for developing the console without a
// gateway: serves gateway/admin/console/ and fake /api answers. Test-only; the ctest drives the
// real gateway.   node mock_server.mjs [PORT]   (tokens: "op" = operator, "au" = auditor)
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const consoleDir = path.resolve(here, '../../gateway/admin/console');
const port = Number(process.argv[2] || 8089);
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' };
const tokens = { op: 'operator', au: 'auditor' };

const office = (no, type, name) => ({ office_no: no, service_type: type, name });
const offices = [
  office('3271500013', '43', 'まめネット居宅介護支援センター'), office('1370100032', '11', '全国訪問介護ステーション'),
  office('1370100016', '43', 'さくら居宅介護支援事業所'), office('3271500039', '15', '出雲デイサービス'),
];
let nextId = 1;
const transfers = [];
function mk(state, i) {
  const r2n = i % 2 === 0;
  const now = Date.now() - (40 - i) * 60000;
  transfers.push({
    id: nextId++, state, direction: r2n ? 'regional->national' : 'national->regional', source_network: r2n ? 'regional' : 'national',
    source_id: 'm' + i, destination_network: r2n ? 'national' : 'regional', sender: offices[r2n ? 0 : 2], recipient: offices[r2n ? 1 : 3],
    sequence: '20250601090' + String(100 + i).slice(-3), kind: i % 3 ? 'K2' : 'K1', attempts: state === 'parked' ? 50 : 1, remote_id: '',
    receipt: state === 'delivered' ? 'read' : '', reason: state === 'rejected' ? 'FIELD_DATE: 第6表 line 3' : state === 'parked' ? 'too many attempts' : '',
    code: state === 'rejected' ? 'FIELD_DATE' : '', last_error: state === 'parked' ? 'connection refused' : '',
    created_at: new Date(now).toISOString(), updated_at: new Date(now).toISOString(), finished_at: null, next_attempt_at: null, payload_retained: true,
  });
}
for (let i = 0; i < 30; i++) mk(i % 10 === 3 ? 'rejected' : i % 10 === 7 ? 'parked' : i > 26 ? 'accepted' : 'delivered', i);
const events = [];
let seq = 0;
function ev(id, kind, actor, detail) {
  seq++;
  events.push({ id: seq, seq, transfer: id, at: new Date().toISOString(), kind, actor, detail, hash: (seq * 2654435761 >>> 0).toString(16).padStart(64, '0') });
}
for (const t of transfers) { ev(t.id, 'accepted', 'gateway:gw1', 'checks ok'); if (t.state === 'delivered') { ev(t.id, 'translation-receipt', 'gateway:gw1', 'MII…'); ev(t.id, 'delivered', 'gateway:gw1', 'sha256 ab12'); ev(t.id, 'receipt-read', 'gateway:gw1', 'read'); } }

let tick = 0;
setInterval(() => { tick++; mk(tick % 5 === 0 ? 'rejected' : 'delivered', 30 + tick); }, 2000);

function json(res, code, body) {
  res.writeHead(code, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify(body));
}
const STAGE = { accepted: 'intake', 'translation-receipt': 'translation', delivered: 'delivery', 'receipt-read': 'receipt', parked: 'parking', redriven: 'operator' };

http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  res.setHeader('Content-Security-Policy', "default-src 'self'");
  if (!url.pathname.startsWith('/api/')) {
    const name = url.pathname === '/' ? 'index.html' : url.pathname.slice(1);
    const file = path.join(consoleDir, name);
    if (!file.startsWith(consoleDir) || !fs.existsSync(file)) { res.writeHead(404); return res.end('not found'); }
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream' });
    return res.end(fs.readFileSync(file));
  }
  const m = /^Bearer (.+)$/.exec(req.headers.authorization || '');
  const role = m && tokens[m[1]];
  if (!role) { res.setHeader('WWW-Authenticate', 'Bearer'); return json(res, 401, { error: 'unauthorized', reason: 'no valid token' }); }
  const p = url.pathname;
  const q = Object.fromEntries(url.searchParams);
  if (p === '/api/session') return json(res, 200, { role, instance: 'mock-1', actor: 'admin:' + role, version: '0.1.0' });
  if (p === '/api/dashboard') {
    const hours = (dir) => Array.from({ length: 24 }, (_, i) => ({ start: new Date(Date.now() - (23 - i) * 3600000).toISOString(), in: i === 23 ? transfers.filter((t) => t.direction === dir).length : (i * 7) % 5, out: 0 }));
    const today = (dir) => ({ in: transfers.filter((t) => t.direction === dir).length, delivered: transfers.filter((t) => t.direction === dir && t.state === 'delivered').length, rejected: transfers.filter((t) => t.direction === dir && t.state === 'rejected').length, parked: 0, in_flight: 0 });
    return json(res, 200, {
      instance: 'mock-1', now: new Date().toISOString(), day_start: new Date().toISOString(),
      directions: ['regional->national', 'national->regional'].map((d) => ({ direction: d, today: today(d), hours: hours(d) })),
      backlog: transfers.filter((t) => t.state === 'accepted').length, parked: transfers.filter((t) => t.state === 'parked').length,
      networks: [{ name: 'national', breaker: 'closed', failures: 0, open_until: null, last_success: new Date().toISOString(), last_failure: null, directory_loaded: true },
        { name: 'regional', breaker: 'open', failures: 5, open_until: null, last_success: null, last_failure: new Date().toISOString(), directory_loaded: true }],
      recent_rejections: transfers.filter((t) => t.state === 'rejected').slice(-20).reverse().map((t) => ({ id: t.id, at: t.created_at, direction: t.direction, sender: t.sender, recipient: t.recipient, code: t.code, reason: t.reason })),
      alerts: transfers.some((t) => t.state === 'parked') ? [{ kind: 'parked', subject: 'transfers', detail: 'some transfers are parked' }] : [],
    });
  }
  if (p === '/api/transfers') {
    let items = transfers.slice().reverse();
    if (q.state) items = items.filter((t) => t.state === q.state);
    if (q.kind) items = items.filter((t) => t.kind === q.kind);
    if (q.office) items = items.filter((t) => t.sender.office_no === q.office || t.recipient.office_no === q.office);
    const limit = Number(q.limit || 50), offset = Number(q.offset || 0);
    return json(res, 200, { items: items.slice(offset, offset + limit), limit, offset, more: items.length > offset + limit });
  }
  if (p === '/api/parked') return json(res, 200, { items: transfers.filter((t) => t.state === 'parked') });
  let mm = /^\/api\/transfers\/(\d+)(?:\/(retry|park))?$/.exec(p);
  if (mm) {
    const t = transfers.find((x) => x.id === Number(mm[1]));
    if (!t) return json(res, 404, { error: 'not_found', reason: 'no transfer' });
    if (mm[2]) {
      if (req.method !== 'POST') return json(res, 405, { error: 'method_not_allowed', reason: 'POST' });
      if (role !== 'operator') return json(res, 403, { error: 'forbidden', reason: 'operators only' });
      if (mm[2] === 'retry') { if (t.state !== 'parked') return json(res, 409, { error: 'conflict', reason: 'not parked' }); t.state = 'accepted'; ev(t.id, 'redriven', 'admin:op', ''); return json(res, 200, { id: t.id, state: t.state, result: 're-driven' }); }
      if (t.state !== 'accepted') return json(res, 409, { error: 'conflict', reason: 'not in flight' });
      t.state = 'parked'; ev(t.id, 'parked', 'admin:op', 'parked by an operator'); return json(res, 200, { id: t.id, state: t.state, result: 'parked' });
    }
    const evs = events.filter((e) => e.transfer === t.id);
    const lineage = evs.flatMap((e) => { const s = { stage: STAGE[e.kind] || 'other', at: e.at, kind: e.kind, actor: e.actor, detail: e.detail, ok: true }; return e.kind === 'accepted' ? [s, { ...s, stage: 'checks' }] : [s]; });
    return json(res, 200, { transfer: t, lineage, events: evs });
  }
  if (p === '/api/registry/conflicts') return json(res, 200, { echoes: 42, conflicts: [{ kind: 'name_mismatch', office_no: '3271500039', service_type: '15', name: '出雲デイサービス', networks: ['national', 'regional'], detail: 'names differ after normalisation: national: 出雲デイサービス / regional: いずもデイサービス', params: { 'name.national': '出雲デイサービス', 'name.regional': 'いずもデイサービス' } }, { kind: 'status_mismatch', office_no: '3271500062', service_type: '11', name: '', networks: ['national', 'regional'], detail: 'ACTIVE on national, SUSPENDED on regional', params: { 'status.national': 'ACTIVE', 'status.regional': 'SUSPENDED' } }] });
  if (p === '/api/registry/last-sync') return json(res, 200, { sync: { id: 3, mode: 'full', started_at: new Date().toISOString(), finished_at: new Date().toISOString(), networks: 'national,regional', added: 1, removed: 0, changed: 1, conflicts: 2, note: '' }, changes: [{ kind: 'added', office_no: '1371100452', service_type: '13', name: '港訪問看護', detail: '' }] });
  if (p === '/api/audit/verify') return json(res, 200, { intact: true, result: 'intact', records: seq, last_seq: seq, checkpoints: 2, last_checkpoint_seq: seq - 3, unsealed_records: 3, checked_at: new Date().toISOString() });
  if (p === '/api/audit/export') {
    const rows = events.filter((e) => !q.transfer || e.transfer === Number(q.transfer));
    const body = q.format === 'jsonl' ? rows.map((r) => JSON.stringify(r)).join('\n') + '\n' : 'seq,at,kind\r\n' + rows.map((r) => `${r.seq},${r.at},${r.kind}`).join('\r\n') + '\r\n';
    res.writeHead(200, { 'Content-Type': q.format === 'jsonl' ? 'application/x-ndjson' : 'text/csv; charset=utf-8', 'Content-Disposition': `attachment; filename="kakehashi-audit.${q.format === 'jsonl' ? 'jsonl' : 'csv'}"` });
    return res.end(body);
  }
  return json(res, 404, { error: 'not_found', reason: p });
}).listen(port, '127.0.0.1', () => console.log(`port=${port}`));
