// DOM helpers (text only: nothing from the server is ever parsed as HTML), formatting, and the
// office-name lookup shared by every page.
import { lang, t, tv } from './i18n.js';

// h('div', {class: 'x', 'data-testid': 'y', onclick: fn}, child, 'text', [more]).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// Times: the API gives ISO 8601 (UTC) strings or milliseconds; shown in the browser's zone.
export function toDate(v) {
  if (v === undefined || v === null || v === '') return null;
  const d = typeof v === 'number' ? new Date(v) : new Date(String(v));
  return isNaN(d.getTime()) ? null : d;
}

export function fmtTime(v) {
  const d = toDate(v);
  if (!d) return '';
  return d.toLocaleString(lang() === 'ja' ? 'ja-JP' : 'en-GB', {
    year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
  });
}

export function fmtClock(v) {
  const d = toDate(v);
  if (!d) return '';
  return d.toLocaleTimeString(lang() === 'ja' ? 'ja-JP' : 'en-GB', { hour: '2-digit', minute: '2-digit' });
}

export function fmtNumber(n) {
  if (n === undefined || n === null || n === '') return '–';
  return Number(n).toLocaleString(lang() === 'ja' ? 'ja-JP' : 'en-GB');
}

// ---- office names -------------------------------------------------------------------------
// Filled from /api/offices when the server has it, and from every "<x>_name" the API returns.
const officeNames = new Map();

export function rememberOffice(no, type, name) {
  if (!no || !name) return;
  officeNames.set(String(no), name);
  if (type) officeNames.set(String(no) + '/' + type, name);
}

export function officeName(no, type) {
  if (!no) return '';
  return officeNames.get(String(no) + '/' + (type || '')) ?? officeNames.get(String(no)) ?? '';
}

// Accepts "1370100016/43", {office_no, service_type, name}, or (no, type, name).
export function splitOffice(v, type, name) {
  if (v && typeof v === 'object') {
    return { no: v.office_no ?? v.office ?? v.no ?? '', type: v.service_type ?? v.type ?? '', name: v.name ?? v.display_name ?? '' };
  }
  const s = String(v ?? '');
  const [no, ty] = s.includes('/') ? s.split('/') : [s, type ?? ''];
  return { no, type: ty || type || '', name: name ?? '' };
}

// An office shown as "name  1370100016/43" (name first, number always visible).
export function officeCell(v, type, name) {
  const o = splitOffice(v, type, name);
  if (!o.no) return h('span', { class: 'muted' }, '–');
  if (o.name) rememberOffice(o.no, o.type, o.name);
  const nm = o.name || officeName(o.no, o.type);
  return h('span', { class: 'office', 'data-testid': 'office', 'data-office': o.no },
    h('span', { class: 'office-name' }, nm || '?'),
    h('span', { class: 'office-no' }, o.type ? `${o.no}/${o.type}` : o.no));
}

export function stateBadge(state) {
  return h('span', { class: `badge state-${state}`, 'data-testid': 'state', 'data-state': state }, tv('state', state));
}

// The delivery status offices read (受付 → 配信 → 受領/既読, 差し戻し, 保留: README "Delivery
// status"), the same words as the evidence report; data-state keeps the transfer's state.
export function statusBadge(row) {
  const status = row.status || row.state;
  return h('span', { class: `badge status-${status} state-${row.state}`, 'data-testid': 'state',
    'data-state': row.state, 'data-status': status }, tv('status', status));
}

export function directionLabel(d) {
  return tv('dir', d);
}

// A table from rows and column specs [{key, label, cell(row) -> node|string}].
export function table(testid, columns, rows, rowAttrs) {
  return h('table', { class: 'grid', 'data-testid': testid },
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', {}, c.label)))),
    h('tbody', {}, rows.length === 0
      ? h('tr', {}, h('td', { colspan: columns.length, class: 'muted', 'data-testid': 'empty' }, t('none')))
      : rows.map((r) => h('tr', rowAttrs ? rowAttrs(r) : {},
        columns.map((c) => h('td', { class: c.class }, c.cell ? c.cell(r) : String(r[c.key] ?? '')))))));
}

export function errorBox(err) {
  const msg = err && err.status === 403 ? t('error.forbidden') : t('error.load', { msg: err?.message ?? String(err) });
  return h('div', { class: 'error', role: 'alert', 'data-testid': 'error' }, msg);
}

// YYYY-MM-DD of a Date in UTC (the API's date parameters are UTC dates).
export function isoDate(d) {
  return d.toISOString().slice(0, 10);
}
