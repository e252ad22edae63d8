// Audit: the chain's verification status, an export of a period, an office or a transfer as
// CSV or JSON lines (the same bytes as `kakehashi audit export`), and the evidence bundle of one
// office and month (the same as `kakehashi audit evidence`).
import { api } from './api.js';
import { t } from './i18n.js';
import { h, clear, fmtTime, fmtNumber, errorBox } from './util.js';

function field(label, input) {
  return h('label', { class: 'field' }, h('span', {}, label), input);
}

function save(file) {
  const url = URL.createObjectURL(file.blob);
  const a = h('a', { href: url, download: file.name, hidden: true });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

export function render(main, ctx) {
  const verifyBox = h('div', { 'data-testid': 'verify' }, t('loading'));
  const p = ctx.params;
  const from = h('input', { type: 'date', value: p.from || '', 'data-testid': 'export-from' });
  const to = h('input', { type: 'date', value: p.to || '', 'data-testid': 'export-to' });
  const office = h('input', { type: 'text', inputmode: 'numeric', maxlength: 10, value: p.office || '', 'data-testid': 'export-office' });
  const transfer = h('input', { type: 'text', inputmode: 'numeric', value: p.transfer || '', 'data-testid': 'export-transfer' });
  const format = h('select', { 'data-testid': 'export-format' },
    h('option', { value: 'csv' }, 'CSV'), h('option', { value: 'jsonl' }, 'JSON Lines'));
  const result = h('p', { role: 'status', 'data-testid': 'export-result', hidden: true });
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'export-submit' }, t('audit.export.submit'));
  const form = h('form', {
    class: 'search', 'data-testid': 'export-form',
    onsubmit: async (ev) => {
      ev.preventDefault();
      submit.disabled = true;
      result.hidden = true;
      try {
        const file = await api.exportAudit({
          format: format.value, from: from.value, to: to.value, office: office.value.trim(), transfer: transfer.value.trim(),
        });
        save(file);
        result.className = 'message ok';
        result.textContent = t('audit.export.done', { file: file.name, bytes: fmtNumber(file.bytes) });
        result.setAttribute('data-bytes', String(file.bytes));
      } catch (e) {
        result.className = 'message error';
        result.textContent = e.status === 403 ? t('error.forbidden') : t('error.load', { msg: e.message });
      }
      result.hidden = false;
      submit.disabled = false;
    },
  },
  field(t('audit.export.from'), from), field(t('audit.export.to'), to), field(t('audit.export.office'), office),
  field(t('audit.export.transfer'), transfer), field(t('audit.export.format'), format), submit);

  // The evidence bundle of one office and month (gateway/audit/EVIDENCE-FORMAT.md).
  const now = new Date();
  const lastMonth = new Date(now.getFullYear(), now.getMonth() - 1, 1);
  const evOffice = h('input', { type: 'text', inputmode: 'numeric', maxlength: 10, pattern: '[0-9]{10}', required: true,
    value: p.office || '', 'data-testid': 'evidence-office' });
  const evMonth = h('input', { type: 'month', required: true, 'data-testid': 'evidence-month',
    value: `${lastMonth.getFullYear()}-${String(lastMonth.getMonth() + 1).padStart(2, '0')}` });
  const evResult = h('p', { role: 'status', 'data-testid': 'evidence-result', hidden: true });
  const evSubmit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'evidence-submit' }, t('audit.evidence.submit'));
  const evForm = h('form', {
    class: 'search', 'data-testid': 'evidence-form',
    onsubmit: async (ev) => {
      ev.preventDefault();
      evSubmit.disabled = true;
      evResult.hidden = true;
      try {
        const file = await api.evidence({ office: evOffice.value.trim(), month: evMonth.value.replace('-', '') });
        save(file);
        evResult.className = 'message ok';
        evResult.textContent = t('audit.export.done', { file: file.name, bytes: fmtNumber(file.bytes) });
        evResult.setAttribute('data-bytes', String(file.bytes));
      } catch (e) {
        evResult.className = 'message error';
        evResult.textContent = e.status === 403 ? t('error.forbidden') : t('error.load', { msg: e.message });
      }
      evResult.hidden = false;
      evSubmit.disabled = false;
    },
  }, field(t('audit.evidence.office'), evOffice), field(t('audit.evidence.month'), evMonth), evSubmit);

  const rerun = h('button', { type: 'button', 'data-testid': 'verify-run', onclick: () => verify() }, t('audit.verify.run'));
  main.append(h('div', { class: 'page-head' }, h('h1', { 'data-testid': 'page-audit' }, t('nav.audit'))),
    h('section', { class: 'panel' }, h('h2', {}, t('audit.verify')), verifyBox, rerun),
    h('section', { class: 'panel' }, h('h2', {}, t('audit.export')), form, result),
    h('section', { class: 'panel', 'data-testid': 'evidence' }, h('h2', {}, t('audit.evidence')),
      h('p', { class: 'hint' }, t('audit.evidence.note')), evForm, evResult));

  let alive = true;
  const verify = async () => {
    verifyBox.removeAttribute('data-loaded');
    try {
      const v = await api.verify();
      if (!alive) return;
      const intact = v.intact === true;
      clear(verifyBox).append(
        h('p', { class: 'verdict ' + (intact ? 'ok' : 'error'), 'data-testid': 'verify-verdict', 'data-intact': String(intact) },
          intact ? t('audit.intact', { n: fmtNumber(v.records), seq: v.last_seq ?? '–' })
            : t('audit.broken', { what: [v.result, v.record_seq != null ? '#' + v.record_seq : '', v.detail].filter(Boolean).join(' ') })),
        h('dl', { class: 'summary' },
          h('dt', {}, t('audit.checkpoint')), h('dd', {}, v.last_checkpoint_seq != null ? '#' + v.last_checkpoint_seq : '–',
            v.checkpoints != null ? ` (${fmtNumber(v.checkpoints)})` : ''),
          h('dt', {}, t('updated', { time: '' }).trim()), h('dd', {}, fmtTime(v.checked_at))));
      verifyBox.setAttribute('data-loaded', 'true');
    } catch (e) {
      if (alive) clear(verifyBox).appendChild(errorBox(e));
    }
  };
  verify();
  return () => { alive = false; };
}
