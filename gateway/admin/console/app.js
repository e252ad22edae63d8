// The console shell: login, header (language switch, role, sign out), navigation and the
// hash router (#/dashboard, #/transfers?office=…, #/transfers/12, #/parked, #/offices, #/registry,
// #/audit).
import { api, setToken, token, setUnauthorizedHandler } from './api.js';
import { lang, setLang, t } from './i18n.js';
import { h, clear, errorBox } from './util.js';
import * as dashboard from './dashboard.js';
import * as transfers from './transfers.js';
import * as parked from './parked.js';
import * as offices from './offices.js';
import * as registry from './registry.js';
import * as audit from './audit.js';

const PAGES = [
  { id: 'dashboard', module: dashboard },
  { id: 'transfers', module: transfers },
  { id: 'parked', module: parked },
  { id: 'offices', module: offices },
  { id: 'registry', module: registry },
  { id: 'audit', module: audit },
];

const state = { session: null, cleanup: null, loginMessage: '' };

function root() {
  return document.getElementById('app');
}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, q] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const params = Object.fromEntries(new URLSearchParams(q || ''));
  return { page: parts[0] || 'dashboard', rest: parts.slice(1), params };
}

export function navigate(page, rest, params) {
  const path = [page, ...(rest || [])].map(encodeURIComponent).join('/');
  const q = new URLSearchParams(Object.entries(params || {}).filter(([, v]) => v !== '' && v != null)).toString();
  const target = '#/' + path + (q ? '?' + q : '');
  if (location.hash === target) route();
  else location.hash = target;
}

function stopPage() {
  if (state.cleanup) {
    try { state.cleanup(); } catch (_) { /* ignore */ }
    state.cleanup = null;
  }
}

function langButton() {
  return h('button', {
    type: 'button', class: 'link lang', 'data-testid': 'lang-switch',
    onclick: () => { setLang(lang() === 'ja' ? 'en' : 'ja'); rerender(); },
  }, t('lang.switch'));
}

function renderLogin() {
  stopPage();
  document.title = t('app.title');
  const input = h('input', {
    type: 'password', id: 'token', name: 'token', autocomplete: 'current-password',
    'data-testid': 'login-token', required: true,
  });
  const message = h('p', { class: 'error', role: 'alert', 'data-testid': 'login-error', hidden: !state.loginMessage },
    state.loginMessage);
  const form = h('form', {
    class: 'login', 'data-testid': 'login-form',
    onsubmit: async (ev) => {
      ev.preventDefault();
      setToken(input.value.trim());
      state.session = null;
      try {
        state.session = await api.session();
        state.loginMessage = '';
        route();
      } catch (e) {
        setToken('');
        state.loginMessage = e.status === 401 ? t('login.bad') : t('error.load', { msg: e.message });
        renderLogin();
      }
    },
  },
  h('h1', {}, t('app.title')),
  h('p', { class: 'muted' }, t('app.subtitle')),
  h('label', { for: 'token' }, t('login.token')),
  input,
  h('p', { class: 'hint' }, t('login.hint')),
  message,
  h('div', { class: 'row' },
    h('button', { type: 'submit', class: 'primary', 'data-testid': 'login-submit' }, t('login.submit')),
    langButton()));
  clear(root()).appendChild(h('main', { class: 'login-page', 'data-testid': 'page-login' }, form));
  input.focus();
}

function renderShell(current) {
  const s = state.session;
  const nav = h('nav', { class: 'nav', 'data-testid': 'nav' },
    PAGES.map((p) => h('a', {
      href: '#/' + p.id, class: p.id === current ? 'active' : '', 'data-testid': 'nav-' + p.id,
      'aria-current': p.id === current ? 'page' : null,
    }, t('nav.' + p.id))));
  const header = h('header', { class: 'top' },
    h('div', { class: 'brand' }, h('img', { src: 'favicon.svg', alt: '', width: 24, height: 24 }),
      h('span', {}, t('app.title')), s?.instance ? h('span', { class: 'instance muted' }, s.instance) : null),
    nav,
    h('div', { class: 'who' },
      h('span', { class: 'role role-' + s.role, 'data-testid': 'role', 'data-role': s.role },
        t('role.label', { role: t('role.' + s.role) })),
      s.actor ? h('span', { class: 'muted' }, s.actor) : null,
      langButton(),
      h('button', {
        type: 'button', class: 'link', 'data-testid': 'logout',
        onclick: () => { setToken(''); state.session = null; state.loginMessage = ''; renderLogin(); },
      }, t('logout'))));
  const main = h('main', { id: 'page', class: 'page' });
  clear(root()).append(header, main);
  return main;
}

async function route() {
  if (!token()) return renderLogin();
  if (!state.session) {
    try {
      state.session = await api.session();
    } catch (e) {
      if (e.status === 401) return; // the handler shows the login screen
      stopPage();
      clear(root()).appendChild(errorBox(e));
      return;
    }
  }
  stopPage();
  document.documentElement.lang = lang();
  const { page, rest, params } = parseHash();
  const entry = PAGES.find((p) => p.id === page) || PAGES[0];
  document.title = `${t('nav.' + entry.id)} — ${t('app.title')}`;
  const main = renderShell(entry.id);
  const ctx = { session: state.session, rest, params, navigate, operator: state.session.role === 'operator' };
  try {
    state.cleanup = entry.module.render(main, ctx) || null;
  } catch (e) {
    main.appendChild(errorBox(e));
  }
}

function rerender() {
  if (state.session && token()) route();
  else renderLogin();
}

setUnauthorizedHandler(() => {
  const had = !!state.session;
  setToken('');
  state.session = null;
  state.loginMessage = had ? t('login.expired') : t('login.bad');
  renderLogin();
});

document.documentElement.lang = lang();
window.addEventListener('hashchange', route);
route();
