// Transfers: search by office, period, state and kind; one transfer's lineage
// (intake → checks → translation receipt → delivery → receipts) with its audit records.
import { api } from './api.js';
import { t } from './i18n.js';
import { h, clear, fmtTime, officeCell, statusBadge, directionLabel, table, errorBox } from './util.js';
import { eventDetail } from './details.js';

const STATES = ['accepted', 'awaiting_route', 'delivered', 'rejected', 'parked', 'superseded'];
const KINDS = ['K1', 'K2', 'K3', 'K4', 'K5', 'K6', 'P1', 'P2', 'P3', 'P4', 'P5', 'P6', 'P7', 'P8', 'P9'];
// Refused units keep the direction they were headed in; "->unrouted" when the recipient resolved
// nowhere ("->refused" only in stores from before issue 14).
const DIRECTIONS = ['regional->national', 'national->regional', 'regional->unrouted', 'national->unrouted'];
const PAGE = 50;

export function transferColumns(extra) {
  return [
    { label: t('col.id'), cell: (r) => h('a', { href: '#/transfers/' + r.id, 'data-testid': 'transfer-link', 'data-id': r.id }, String(r.id)) },
    { label: t('col.state'), cell: (r) => statusBadge(r) },
    { label: t('col.direction'), cell: (r) => directionLabel(r.direction) },
    { label: t('col.sender'), cell: (r) => officeCell(r.sender) },
    { label: t('col.recipient'), cell: (r) => officeCell(r.recipient) },
    { label: t('col.kind'), cell: (r) => r.kind || '' },
    { label: t('col.sequence'), cell: (r) => r.sequence || '', class: 'mono' },
    { label: t('col.created'), cell: (r) => fmtTime(r.created_at) },
    ...(extra || []),
  ];
}

function field(label, input) {
  return h('label', { class: 'field' }, h('span', {}, label), input);
}

function searchView(main, ctx) {
  const p = ctx.params;
  const office = h('input', { type: 'text', inputmode: 'numeric', maxlength: 10, pattern: '[0-9]{10}', value: p.office || '', 'data-testid': 'search-office', placeholder: '1370100016' });
  const from = h('input', { type: 'date', value: p.from || '', 'data-testid': 'search-from' });
  const to = h('input', { type: 'date', value: p.to || '', 'data-testid': 'search-to' });
  const state = h('select', { 'data-testid': 'search-state' },
    h('option', { value: '' }, t('state.any')),
    STATES.map((s) => h('option', { value: s, selected: p.state === s }, t('state.' + s))));
  const direction = h('select', { 'data-testid': 'search-direction' },
    h('option', { value: '' }, t('dir.any')),
    DIRECTIONS.map((d) => h('option', { value: d, selected: p.direction === d }, t('dir.' + d))));
  const kind = h('select', { 'data-testid': 'search-kind' },
    h('option', { value: '' }, t('kind.any')),
    KINDS.map((k) => h('option', { value: k, selected: p.kind === k }, k)));
  const form = h('form', {
    class: 'search', 'data-testid': 'search-form',
    onsubmit: (ev) => {
      ev.preventDefault();
      ctx.navigate('transfers', [], { office: office.value.trim(), from: from.value, to: to.value, state: state.value, kind: kind.value, direction: direction.value });
    },
  },
  field(t('search.office'), office), field(t('search.from'), from), field(t('search.to'), to),
  field(t('search.state'), state), field(t('search.direction'), direction), field(t('search.kind'), kind),
  h('button', { type: 'submit', class: 'primary', 'data-testid': 'search-submit' }, t('search.submit')));

  const count = h('p', { class: 'muted', 'data-testid': 'search-count' }, t('loading'));
  const results = h('div', { 'data-testid': 'search-results' });
  const more = h('button', { type: 'button', hidden: true, 'data-testid': 'search-more' }, t('search.more'));
  main.append(h('div', { class: 'page-head' }, h('h1', { 'data-testid': 'page-transfers' }, t('nav.transfers'))),
    h('section', { class: 'panel' }, form), h('section', { class: 'panel' }, count, results, more));

  let alive = true;
  let items = [];
  const query = { office: p.office, from: p.from, to: p.to, state: p.state, kind: p.kind, direction: p.direction, limit: PAGE };
  const load = async (offset) => {
    try {
      const r = await api.transfers({ ...query, offset });
      if (!alive) return;
      items = offset === 0 ? r.items : items.concat(r.items);
      clear(results).appendChild(table('transfers', transferColumns(), items, (row) => ({ 'data-id': row.id, 'data-state': row.state })));
      count.textContent = t('search.count', { n: items.length + (r.more ? '+' : '') });
      results.setAttribute('data-loaded', 'true');
      more.hidden = !r.more;
      more.onclick = () => load(items.length);
    } catch (e) {
      if (alive) clear(results).appendChild(errorBox(e));
    }
  };
  load(0);
  return () => { alive = false; };
}

// The five steps shown as a strip; each is done (some record ok), failed (a record not ok and
// none ok after it) or pending.
const STEPS = [
  { id: 'intake', stages: ['intake'] },
  { id: 'checks', stages: ['checks'] },
  { id: 'translation', stages: ['translation'] },
  { id: 'delivery', stages: ['delivery', 'rejection'] },
  { id: 'receipts', stages: ['receipt'] },
];

function stepStatus(lineage, stages) {
  const mine = lineage.filter((s) => stages.includes(s.stage));
  if (mine.length === 0) return 'pending';
  return mine[mine.length - 1].ok === false ? 'failed' : 'done';
}

function detailView(main, ctx, id) {
  const body = h('div', { 'data-testid': 'transfer-detail' }, t('loading'));
  main.append(h('p', {}, h('a', { href: '#/transfers', 'data-testid': 'back' }, t('transfer.back'))),
    h('div', { class: 'page-head' }, h('h1', { 'data-testid': 'page-transfer' }, t('transfer.title', { id }))), body);
  let alive = true;
  (async () => {
    try {
      const r = await api.transfer(id);
      if (!alive) return;
      const tr = r.transfer;
      const lineage = r.lineage || [];
      const summary = h('dl', { class: 'summary', 'data-testid': 'transfer-summary', 'data-state': tr.state },
        h('dt', {}, t('col.state')), h('dd', {}, statusBadge(tr)),
        h('dt', {}, t('col.direction')), h('dd', {}, directionLabel(tr.direction)),
        h('dt', {}, t('col.sender')), h('dd', {}, officeCell(tr.sender)),
        h('dt', {}, t('col.recipient')), h('dd', {}, officeCell(tr.recipient)),
        h('dt', {}, t('col.kind')), h('dd', {}, tr.kind || ''),
        h('dt', {}, t('col.sequence')), h('dd', { class: 'mono' }, tr.sequence || ''),
        h('dt', {}, t('col.created')), h('dd', {}, fmtTime(tr.created_at)),
        h('dt', {}, t('col.finished')), h('dd', {}, fmtTime(tr.finished_at)),
        h('dt', {}, t('col.attempts')), h('dd', {}, String(tr.attempts ?? 0)),
        h('dt', {}, t('col.receipt')), h('dd', {}, tr.receipt || ''),
        tr.reason ? [h('dt', {}, t('col.reason')), h('dd', { class: 'reason' }, tr.reason)] : null,
        tr.last_error ? [h('dt', {}, t('dash.lasterror')), h('dd', { class: 'reason' }, tr.last_error)] : null);
      const strip = h('ol', { class: 'steps', 'data-testid': 'lineage-steps' },
        STEPS.map((s) => {
          const st = stepStatus(lineage, s.stages);
          return h('li', { class: 'step step-' + st, 'data-step': s.id, 'data-status': st },
            h('span', { class: 'step-name' }, t('stage.' + s.id)), h('span', { class: 'step-status' }, t('stage.' + st)));
        }));
      const timeline = table('lineage', [
        { label: t('col.at'), cell: (s) => fmtTime(s.at) },
        { label: t('transfer.lineage'), cell: (s) => h('span', { class: 'stage stage-' + s.stage + (s.ok === false ? ' bad' : '') }, stageLabel(s.stage)) },
        { label: t('col.event'), cell: (s) => s.kind || '', class: 'mono' },
        { label: t('col.actor'), cell: (s) => s.actor || '' },
        { label: t('col.detail'), cell: (s) => h('span', { class: 'detail', 'data-raw': s.detail || '' }, shorten(eventDetail(s.kind, s.detail))) },
      ], lineage, (s) => ({ 'data-stage': s.stage }));
      const events = table('audit-records', [
        { label: t('col.seq'), cell: (e) => String(e.seq ?? ''), class: 'mono' },
        { label: t('col.at'), cell: (e) => fmtTime(e.at) },
        { label: t('col.event'), cell: (e) => e.kind || '', class: 'mono' },
        { label: t('col.actor'), cell: (e) => e.actor || '' },
        { label: t('col.detail'), cell: (e) => h('span', { class: 'detail', 'data-raw': e.detail || '' }, shorten(eventDetail(e.kind, e.detail))) },
        { label: t('col.hash'), cell: (e) => h('span', { class: 'mono hash', title: e.hash || '' }, (e.hash || '').slice(0, 12)) },
      ], r.events || []);
      clear(body).append(
        h('section', { class: 'panel' }, summary),
        h('section', { class: 'panel' }, h('h2', {}, t('transfer.lineage')), strip, timeline),
        h('section', { class: 'panel' }, h('h2', {}, t('transfer.audit')), events));
      body.setAttribute('data-loaded', 'true');
    } catch (e) {
      if (!alive) return;
      clear(body).appendChild(e.status === 404 ? h('p', { class: 'error', 'data-testid': 'error' }, t('transfer.notfound', { id })) : errorBox(e));
    }
  })();
  return () => { alive = false; };
}

function stageLabel(stage) {
  const key = stage === 'receipt' ? 'receipts' : stage;
  const v = t('stage.' + key);
  return v === 'stage.' + key ? String(stage) : v;
}

function shorten(s) {
  const v = String(s ?? '');
  return v.length > 240 ? v.slice(0, 240) + '…' : v;
}

export function render(main, ctx) {
  if (ctx.rest.length > 0) return detailView(main, ctx, ctx.rest[0]);
  return searchView(main, ctx);
}
