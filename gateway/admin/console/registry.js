// Registry: the reconciliation's conflicts and the last sync's changes.
import { api } from './api.js';
import { t, tv } from './i18n.js';
import { h, clear, fmtTime, fmtNumber, officeCell, table, errorBox } from './util.js';
import { conflictDetail } from './details.js';

export function render(main) {
  const syncBox = h('div', { 'data-testid': 'last-sync' }, t('loading'));
  const conflictsBox = h('div', { 'data-testid': 'conflicts' }, t('loading'));
  main.append(h('div', { class: 'page-head' }, h('h1', { 'data-testid': 'page-registry' }, t('nav.registry'))),
    h('section', { class: 'panel' }, h('h2', {}, t('registry.conflicts')), conflictsBox),
    h('section', { class: 'panel' }, h('h2', {}, t('registry.lastsync')), syncBox));
  let alive = true;
  (async () => {
    try {
      const c = await api.conflicts();
      if (!alive) return;
      // Echoes of the gateway's own publications are not conflicts: one line with their count.
      const echoes = Number(c.echoes ?? 0);
      clear(conflictsBox).append(table('conflicts-table', [
        { label: t('col.office'), cell: (r) => officeCell(r.office_no, r.service_type, r.name) },
        { label: t('col.problem'), cell: (r) => h('span', { class: 'conflict', 'data-kind': r.kind, title: r.kind || '' }, tv('conflict', r.kind)) },
        { label: t('col.detail'), cell: (r) => h('span', { class: 'detail', 'data-raw': r.detail || '' }, conflictDetail(r)) },
      ], c.conflicts || []),
      h('p', { class: 'muted', 'data-testid': 'registry-echoes', 'data-count': String(echoes) }, t('registry.echoes', { n: fmtNumber(echoes) })));
      conflictsBox.setAttribute('data-loaded', 'true');
    } catch (e) {
      if (alive) clear(conflictsBox).appendChild(errorBox(e));
    }
  })();
  (async () => {
    try {
      const s = await api.lastSync();
      if (!alive) return;
      const sync = s.sync;
      const head = sync
        ? h('p', { 'data-testid': 'sync-summary' }, t('registry.syncedAt', { time: fmtTime(sync.finished_at || sync.started_at) }),
          ` — +${sync.added ?? 0} / −${sync.removed ?? 0} / ~${sync.changed ?? 0}`,
          sync.note ? h('span', { class: 'muted' }, ' ', sync.note) : null)
        : h('p', { class: 'muted', 'data-testid': 'sync-summary' }, t('registry.never'));
      clear(syncBox).append(head, h('h3', {}, t('registry.changes')), table('changes-table', [
        { label: t('col.change'), cell: (r) => h('span', { class: 'badge change-' + r.kind, 'data-kind': r.kind }, tv('change', r.kind)) },
        { label: t('col.office'), cell: (r) => officeCell(r.office_no, r.service_type, r.name) },
        { label: t('col.detail'), cell: (r) => r.detail || '' },
      ], s.changes || []));
      syncBox.setAttribute('data-loaded', 'true');
    } catch (e) {
      if (alive) clear(syncBox).appendChild(errorBox(e));
    }
  })();
  return () => { alive = false; };
}
