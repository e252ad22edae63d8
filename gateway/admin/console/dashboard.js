// Dashboard: today's traffic both ways (cards + a 24-hour chart), backlog, parked, the networks'
// state, recent rejections and alerts. Refreshes itself every few seconds.
import { api } from './api.js';
import { lineChart } from './chart.js';
import { t, tv } from './i18n.js';
import { h, clear, fmtTime, fmtClock, fmtNumber, officeCell, directionLabel, table, errorBox } from './util.js';

export const REFRESH_MS = 3000;

function sumToday(dirs, prefix) {
  const out = { in: 0, delivered: 0, rejected: 0, parked: 0, in_flight: 0 };
  for (const d of dirs) {
    if (!String(d.direction).startsWith(prefix)) continue;
    for (const k of Object.keys(out)) out[k] += Number(d.today?.[k] ?? 0);
  }
  return out;
}

function hourly(dirs, prefix) {
  const byStart = new Map();
  for (const d of dirs) {
    if (!String(d.direction).startsWith(prefix)) continue;
    for (const hr of d.hours || []) byStart.set(hr.start, (byStart.get(hr.start) || 0) + Number(hr.in || 0));
  }
  return byStart;
}

function card(testid, label, value, extraClass) {
  return h('div', { class: 'card ' + (extraClass || ''), 'data-testid': testid, 'data-value': value },
    h('div', { class: 'card-value' }, fmtNumber(value)),
    h('div', { class: 'card-label' }, label));
}

function view(d) {
  const dirs = d.directions || [];
  const r2n = sumToday(dirs, 'regional->');
  const n2r = sumToday(dirs, 'national->');
  const hoursR = hourly(dirs, 'regional->');
  const hoursN = hourly(dirs, 'national->');
  const starts = [...new Set([...hoursR.keys(), ...hoursN.keys()])].sort();
  const chart = lineChart({
    testid: 'traffic-chart',
    title: t('dash.traffic'),
    labels: starts.map((s) => fmtClock(s)),
    series: [
      { name: t('dash.traffic.r2n'), cls: 's-r2n', values: starts.map((s) => hoursR.get(s) || 0) },
      { name: t('dash.traffic.n2r'), cls: 's-n2r', values: starts.map((s) => hoursN.get(s) || 0) },
    ],
  });
  const cards = h('section', { class: 'cards', 'data-testid': 'dash-cards' },
    card('dash-in-r2n', t('dash.in.r2n'), r2n.in),
    card('dash-in-n2r', t('dash.in.n2r'), n2r.in),
    card('dash-delivered', t('dash.delivered'), r2n.delivered + n2r.delivered),
    card('dash-rejected', t('dash.rejected'), r2n.rejected + n2r.rejected),
    card('dash-backlog', t('dash.backlog'), d.backlog ?? 0, (d.backlog ?? 0) > 0 ? 'warn' : ''),
    card('dash-parked', t('dash.parked'), d.parked ?? 0, (d.parked ?? 0) > 0 ? 'alert' : ''));

  const networks = table('networks', [
    { label: t('dash.network'), cell: (n) => tv('net', n.name) },
    { label: t('dash.circuit'), cell: (n) => h('span', { class: 'badge breaker-' + n.breaker, 'data-testid': 'breaker', 'data-breaker': n.breaker }, tv('circuit', n.breaker)) },
    { label: t('dash.lastok'), cell: (n) => fmtTime(n.last_success) },
    { label: t('dash.lasterror'), cell: (n) => fmtTime(n.last_failure) },
  ], d.networks || [], (n) => ({ 'data-network': n.name }));

  const rejections = table('recent-rejections', [
    { label: t('col.at'), cell: (r) => h('a', { href: '#/transfers/' + r.id }, fmtTime(r.at)) },
    { label: t('col.direction'), cell: (r) => directionLabel(r.direction) },
    { label: t('col.sender'), cell: (r) => officeCell(r.sender) },
    { label: t('col.recipient'), cell: (r) => officeCell(r.recipient) },
    { label: t('col.reason'), cell: (r) => h('span', { title: r.reason || '' }, r.code || r.reason || '') },
  ], d.recent_rejections || []);

  const alerts = (d.alerts || []).length === 0 ? null : h('ul', { class: 'alerts', 'data-testid': 'alerts' },
    d.alerts.map((a) => h('li', { class: 'alert-item', 'data-kind': a.kind }, h('strong', {}, a.kind), ' ', a.subject || '', ' ', h('span', { class: 'muted' }, a.detail || ''))));

  return h('div', { class: 'dashboard' },
    alerts,
    cards,
    h('section', { class: 'panel' }, h('h2', {}, t('dash.traffic')), chart),
    h('div', { class: 'two' },
      h('section', { class: 'panel' }, h('h2', {}, t('dash.networks')), networks),
      h('section', { class: 'panel' }, h('h2', {}, t('dash.rejections')), rejections)));
}

export function render(main) {
  const status = h('p', { class: 'muted status', 'data-testid': 'dash-updated' }, t('loading'));
  const body = h('div', { 'data-testid': 'dash-body' });
  main.append(h('div', { class: 'page-head' }, h('h1', { 'data-testid': 'page-dashboard' }, t('nav.dashboard')),
    h('span', { class: 'live muted' }, t('live', { sec: REFRESH_MS / 1000 })), status), body);
  let alive = true;
  let timer = null;
  const load = async () => {
    try {
      const d = await api.dashboard();
      if (!alive) return;
      clear(body).appendChild(view(d));
      status.textContent = t('updated', { time: fmtTime(d.now || Date.now()) });
      status.setAttribute('data-at', d.now || '');
      body.setAttribute('data-loaded', 'true');
    } catch (e) {
      if (!alive) return;
      clear(body).appendChild(errorBox(e));
    }
    if (alive) timer = setTimeout(load, REFRESH_MS);
  };
  load();
  return () => { alive = false; clearTimeout(timer); };
}
