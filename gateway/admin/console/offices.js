// Office logins: for each network whose offices log in themselves (the Kaigo WEB Service), its
// offices and their states, and the login a person carries out (API.md, "Office logins"): start
// it, read where the one-time password went, enter the code. The destination hint is shown only
// here, to the person logging in; the code is sent once and never kept. Operators only.
import { api } from './api.js';
import { t, tv } from './i18n.js';
import { h, clear, table, errorBox, fmtTime } from './util.js';

function officeStateBadge(state) {
  return h('span', { class: `badge office-${state}`, 'data-testid': 'office-state', 'data-state': state },
    tv('office', state));
}

export function render(main, ctx) {
  const box = h('div', { 'data-testid': 'offices' }, t('loading'));
  main.append(h('div', { class: 'page-head' }, h('h1', { 'data-testid': 'page-offices' }, t('offices.title')),
    ctx.operator ? null : h('span', { class: 'muted', 'data-testid': 'operator-only' }, t('parked.operatorOnly'))),
  h('p', { class: 'muted' }, t('offices.intro')), box);
  if (!ctx.operator) {
    clear(box).appendChild(h('p', { class: 'muted' }, t('offices.operatorOnly')));
    return () => {};
  }
  let alive = true;
  // The login under way (one at a time): {network, office, challenge}.
  let login = null;

  const loginPanel = (network, reload) => {
    const message = h('p', { class: 'message', role: 'status', 'data-testid': 'login-message', hidden: true });
    const show = (text, bad) => {
      message.hidden = false;
      message.textContent = text;
      message.className = 'message ' + (bad ? 'error' : 'ok');
    };
    if (!login || login.network !== network) return null;
    const office = login.office;
    const c = login.challenge;
    const code = h('input', {
      type: 'password', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 16,
      'data-testid': 'otp-input', required: true, 'aria-label': t('offices.code'),
    });
    const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'otp-submit' }, t('offices.submit'));
    const form = h('form', {
      class: 'otp', 'data-testid': 'otp-form',
      onsubmit: async (ev) => {
        ev.preventDefault();
        const otp = code.value.trim();
        code.value = '';
        if (!otp) return;
        submit.disabled = true;
        try {
          const r = await api.submitOtp(network, office, otp);
          if (r.state === 'awaiting_otp') {
            show(t('offices.wrongCode', { error: r.error || '' }), true);
            submit.disabled = false;
            code.focus();
            return;
          }
          login = null;
          reload(r.state === 'active' ? t('offices.loggedIn', { office, until: fmtTime(r.refresh_expires_at) })
            : t('offices.outcome', { office, state: tv('office', r.state), error: r.error || '' }), r.state !== 'active');
        } catch (e) {
          submit.disabled = false;
          show(e.status === 403 ? t('error.forbidden') : t('error.load', { msg: e.message }), true);
        }
      },
    },
    h('p', { 'data-testid': 'otp-sent' }, t('offices.sent', {
      office, delivery: tv('delivery', c.otp_delivery), hint: c.otp_destination_hint || '', until: fmtTime(c.otp_expires_at),
    })),
    h('label', { class: 'field inline' }, h('span', {}, t('offices.code')), code),
    h('div', { class: 'row' }, submit,
      h('button', { type: 'button', class: 'link', 'data-testid': 'otp-cancel', onclick: () => { login = null; reload(); } }, t('offices.cancel'))),
    message);
    setTimeout(() => code.focus(), 0);
    return h('section', { class: 'panel login-panel', 'data-testid': 'login-panel', 'data-office': office }, form);
  };

  const load = async (note, bad) => {
    let dashboard;
    try {
      dashboard = await api.dashboard();
    } catch (e) {
      if (alive) clear(box).appendChild(errorBox(e));
      return;
    }
    // Networks without office logins answer 404: not shown.
    const lists = await Promise.all((dashboard.networks || []).map(async (n) => {
      try {
        return await api.offices(n.name);
      } catch (e) {
        return e.status === 404 ? null : { network: n.name, error: e };
      }
    }));
    if (!alive) return;
    const sections = [];
    if (note) sections.push(h('p', { class: 'message ' + (bad ? 'error' : 'ok'), role: 'status', 'data-testid': 'offices-message' }, note));
    const found = lists.filter(Boolean);
    if (found.length === 0) sections.push(h('p', { class: 'muted', 'data-testid': 'no-login-networks' }, t('offices.none')));
    for (const list of found) {
      if (list.error) {
        sections.push(h('section', { class: 'panel' }, h('h2', {}, list.network), errorBox(list.error)));
        continue;
      }
      const start = async (btn, office) => {
        btn.disabled = true;
        try {
          const r = await api.beginLogin(list.network, office);
          if (r.state === 'awaiting_otp') {
            login = { network: list.network, office, challenge: r };
            load();
          } else if (r.state === 'pending') {
            load(t('offices.pending', { office }), true);
          } else {
            load(t('offices.outcome', { office, state: tv('office', r.state), error: r.error || r.locked_until || '' }), true);
          }
        } catch (e) {
          load(e.status === 403 ? t('error.forbidden') : t('error.load', { msg: e.message }), true);
        }
      };
      const columns = [
        { label: t('offices.office'), cell: (r) => h('span', { class: 'office-no' }, r.office_no) },
        { label: t('col.state'), cell: (r) => officeStateBadge(r.state) },
        { label: t('offices.due'), cell: (r) => fmtTime(r.refresh_expires_at) },
        { label: t('offices.certificate'), cell: (r) => fmtTime(r.certificate_not_after) },
        { label: t('offices.detail'), cell: (r) => h('span', { class: 'reason' }, [r.detail, r.locked_until ? t('offices.lockedUntil', { until: fmtTime(r.locked_until) }) : ''].filter(Boolean).join(' ')) },
        { label: t('col.actions'), cell: (r) => h('button', {
          type: 'button', class: r.state === 'active' ? '' : 'primary', 'data-testid': 'login-start', 'data-office': r.office_no,
          disabled: r.state === 'locked' || r.state === 'no_credentials',
          onclick: (ev) => start(ev.currentTarget, r.office_no),
        }, t(r.state === 'active' ? 'offices.relogin' : 'offices.login')) },
      ];
      sections.push(h('section', { class: 'panel', 'data-testid': 'login-network', 'data-network': list.network },
        h('h2', {}, list.network),
        table('office-list', columns, list.offices || [], (r) => ({ 'data-office': r.office_no, 'data-state': r.state })),
        loginPanel(list.network, (text, failed) => load(text, failed))));
    }
    clear(box).append(...sections);
    box.setAttribute('data-loaded', 'true');
  };
  load();
  return () => { alive = false; };
}
