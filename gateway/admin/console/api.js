// The admin API (gateway/admin/API.md): every call carries the bearer token kept in
// sessionStorage; a 401 sends the user back to the login screen.

const TOKEN_KEY = 'kakehashi.token';

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

export function setToken(v) {
  if (v) sessionStorage.setItem(TOKEN_KEY, v);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {
  constructor(status, code, reason) {
    super(reason ? `${code || status}: ${reason}` : String(code || status));
    this.status = status;
    this.code = code;
    this.reason = reason;
  }
}

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

async function request(method, path, params, body) {
  const headers = { Accept: 'application/json' };
  const tok = token();
  if (tok) headers.Authorization = 'Bearer ' + tok;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  // Actions must show they come from this console, not from a page of another site that the
  // browser shows with the operator's client certificate (API.md, "Cross-site requests").
  if (method !== 'GET') headers['X-Kakehashi-Request'] = '1';
  let res;
  try {
    res = await fetch(path + query(params), {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store', credentials: 'same-origin',
    });
  } catch (e) {
    throw new ApiError(0, 'network', e.message);
  }
  if (!res.ok) {
    let code = '', reason = '';
    try {
      const j = await res.json();
      code = j.error || '';
      reason = j.reason || '';
    } catch (_) { /* not JSON */ }
    const err = new ApiError(res.status, code || String(res.status), reason || res.statusText);
    if (res.status === 401) onUnauthorized(err);
    throw err;
  }
  return res;
}

export async function get(path, params) {
  return (await request('GET', path, params)).json();
}

export async function post(path, body) {
  return (await request('POST', path, undefined, body ?? {})).json();
}

// Downloads a file the API serves (the export): returns {name, bytes, blob}; the caller saves it.
export async function download(path, params, fallbackName) {
  const res = await request('GET', path, params);
  const blob = await res.blob();
  const cd = res.headers.get('Content-Disposition') || '';
  const m = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(cd);
  return { name: m ? decodeURIComponent(m[1]) : fallbackName, bytes: blob.size, blob };
}

export const api = {
  session: () => get('/api/session'),
  dashboard: () => get('/api/dashboard'),
  transfers: (p) => get('/api/transfers', p),
  transfer: (id) => get('/api/transfers/' + encodeURIComponent(id)),
  parked: () => get('/api/parked'),
  retry: (id) => post('/api/transfers/' + encodeURIComponent(id) + '/retry'),
  park: (id, reason) => post('/api/transfers/' + encodeURIComponent(id) + '/park', reason ? { reason } : {}),
  conflicts: () => get('/api/registry/conflicts'),
  lastSync: () => get('/api/registry/last-sync'),
  verify: () => get('/api/audit/verify'),
  // Office logins (networks whose offices log in themselves): the code goes in a body, once.
  offices: (network) => get('/api/networks/' + encodeURIComponent(network) + '/offices'),
  beginLogin: (network, office) => post('/api/networks/' + encodeURIComponent(network) + '/offices/' +
    encodeURIComponent(office) + '/login'),
  submitOtp: (network, office, otp) => post('/api/networks/' + encodeURIComponent(network) + '/offices/' +
    encodeURIComponent(office) + '/login/otp', { otp }),
  evidence: (p) => download('/api/audit/evidence', p, `evidence-${p.office}-${p.month}.json`),
  exportAudit: (p) => download('/api/audit/export', p,
    `kakehashi-audit.${p.format === 'jsonl' ? 'jsonl' : 'csv'}`),
};
