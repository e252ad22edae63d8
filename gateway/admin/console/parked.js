// Parked queue: parked transfers with a re-drive button, and the transfers in flight with a park
// button. Both are for operators only: auditors see them disabled (and the server refuses anyway).
import { api } from './api.js';
import { t } from './i18n.js';
import { h, clear, table, errorBox } from './util.js';
import { transferColumns } from './transfers.js';

export function render(main, ctx) {
  const message = h('p', { class: 'message', role: 'status', 'data-testid': 'action-message', hidden: true });
  const parkedBox = h('div', { 'data-testid': 'parked-list' }, t('loading'));
  const inflightBox = h('div', { 'data-testid': 'inflight-list' }, t('loading'));
  const reason = h('input', { type: 'text', maxlength: 200, 'data-testid': 'park-reason', placeholder: t('col.reason'), disabled: !ctx.operator });
  main.append(
    h('div', { class: 'page-head' }, h('h1', { 'data-testid': 'page-parked' }, t('parked.title')),
      ctx.operator ? null : h('span', { class: 'muted', 'data-testid': 'operator-only' }, t('parked.operatorOnly'))),
    message,
    h('section', { class: 'panel' }, parkedBox),
    h('section', { class: 'panel' }, h('h2', {}, t('parked.inflight')), h('label', { class: 'field inline' }, h('span', {}, t('col.reason')), reason), inflightBox));

  let alive = true;
  const show = (text, bad) => {
    message.hidden = false;
    message.textContent = text;
    message.className = 'message ' + (bad ? 'error' : 'ok');
  };
  const act = async (btn, kind, id) => {
    btn.disabled = true;
    try {
      if (kind === 'retry') await api.retry(id);
      else await api.park(id, reason.value.trim());
      show(t(kind === 'retry' ? 'parked.retried' : 'parked.parkedok', { id }), false);
    } catch (e) {
      show(e.status === 403 ? t('error.forbidden') : t('error.load', { msg: e.message }), true);
    }
    if (alive) load();
  };
  const button = (kind, r) => h('button', {
    type: 'button', class: kind === 'retry' ? 'primary' : '',
    'data-testid': kind === 'retry' ? 'retry' : 'park', 'data-id': r.id,
    disabled: !ctx.operator, title: ctx.operator ? null : t('parked.operatorOnly'),
    onclick: (ev) => act(ev.currentTarget, kind, r.id),
  }, t(kind === 'retry' ? 'parked.retry' : 'parked.park'));

  const load = async () => {
    try {
      const [p, f] = await Promise.all([api.parked(), api.transfers({ state: 'accepted', limit: 100 })]);
      if (!alive) return;
      clear(parkedBox).appendChild(table('parked', transferColumns([
        { label: t('col.attempts'), cell: (r) => String(r.attempts ?? 0) },
        { label: t('col.reason'), cell: (r) => h('span', { class: 'reason', title: r.last_error || '' }, r.reason || r.last_error || '') },
        { label: t('col.actions'), cell: (r) => button('retry', r) },
      ]), p.items || [], (r) => ({ 'data-id': r.id })));
      clear(inflightBox).appendChild(table('inflight', transferColumns([
        { label: t('col.attempts'), cell: (r) => String(r.attempts ?? 0) },
        { label: t('dash.lasterror'), cell: (r) => h('span', { class: 'reason' }, r.last_error || '') },
        { label: t('col.actions'), cell: (r) => button('park', r) },
      ]), f.items || [], (r) => ({ 'data-id': r.id })));
      parkedBox.setAttribute('data-loaded', 'true');
      parkedBox.setAttribute('data-count', String((p.items || []).length));
    } catch (e) {
      if (alive) clear(parkedBox).appendChild(errorBox(e));
    }
  };
  load();
  return () => { alive = false; };
}
