// Details in the reader's language: registry conflicts (the API's code + params) and audit records
// (the stored detail is an English sentence hashed into the chain, so it is read back here into a
// code + params per record kind and worded through i18n.js). What cannot be read back (a network's
// error text, an operator's reason) is shown as a value inside the localized sentence.
import { t, tv, lang } from './i18n.js';

const SEP = () => t('list.sep');

function network(n) {
  return tv('netshort', n);
}

function homeReason(reason) {
  const r = String(reason ?? '');
  if (r.startsWith('override')) {
    const why = r.slice('override'.length).replace(/^:\s*/, '');
    return why ? t('reason.override.why', { why }) : t('reason.override');
  }
  return tv('reason', r);
}

// Values of params whose key starts with `prefix` ("status.national" → national), in order.
function byNetwork(params, prefix, fmt) {
  return Object.keys(params).filter((k) => k.startsWith(prefix))
    .map((k) => fmt(k.slice(prefix.length), params[k])).join(SEP());
}

// A registry conflict from /api/registry/conflicts ({kind, params, detail}).
export function conflictDetail(c) {
  const p = c.params;
  if (!p || typeof p !== 'object') return c.detail || '';
  const nets = (v) => String(v ?? '').split(',').filter(Boolean).map(network).join(SEP());
  switch (c.kind) {
    case 'on_both_networks':
      return p.home
        ? t('conflict.detail.on_both_networks', { networks: nets(p.networks), home: network(p.home), reason: homeReason(p.home_reason) })
        : t('conflict.detail.on_both_networks.nohome', { networks: nets(p.networks) });
    case 'name_mismatch':
      return t('conflict.detail.name_mismatch', { names: byNetwork(p, 'name.', (n, v) => `${network(n)}: ${v}`) });
    case 'status_mismatch':
      return t('conflict.detail.status_mismatch', { statuses: byNetwork(p, 'status.', (n, v) => `${network(n)}: ${tv('officestatus', v)}`) });
    case 'invalid_check_digit':
      return t('conflict.detail.invalid_check_digit', { office: p.office_no ?? c.office_no ?? '' });
    case 'unknown_service_type':
      return t('conflict.detail.unknown_service_type', { type: p.service_type ?? c.service_type ?? '' });
    case 'unknown_status':
      return t('conflict.detail.unknown_status', { networks: nets(p.networks) });
    default:
      return c.detail || '';
  }
}

// A parked reason: the engine's and the operator tools' own wordings, else the operator's text.
function parkReason(reason) {
  let m;
  if (reason === 'parked by an operator') return t('event.park.operator');
  if ((m = /^failed (\d+) times; last: (.*)$/s.exec(reason))) return t('event.park.failed', { n: m[1], error: m[2] });
  return reason;
}

// A refusal "CODE file:line#no (message)": the code and place are the finding; the English message
// is the checker's wording, left to the English view (the raw record keeps it).
function refusalText(entry) {
  return lang() === 'en' ? entry : entry.replace(/ \(.*\)$/s, '');
}

// "names ok, signatures refused" → "名称 OK、署名 不可".
function checksText(list) {
  return list.split(', ').filter(Boolean).map((item) => {
    const m = /^(\S+) (ok|refused)$/.exec(item);
    return m ? `${tv('check', m[1])} ${t('check.' + m[2])}` : item;
  }).join(SEP());
}

// The admission detail: "kind K2, 3 files; signer …; checks …; route national (registry 5)[;
// refused: …][; insured …]".
function admissionText(detail) {
  const parts = detail.split('; ');
  const head = /^kind (\S+), (\d+) files$/.exec(parts[0] || '');
  if (!head) return null;
  const out = [t('event.unit', { kind: head[1] === '?' ? t('event.unknownkind') : head[1], n: head[2] })];
  const signers = [];
  for (const part of parts.slice(1)) {
    let m;
    if ((m = /^signer (.*)$/.exec(part))) {
      signers.push(m[1]);
    } else if ((m = /^checks (.*)$/.exec(part))) {
      out.push(t('event.checks', { list: checksText(m[1]) }));
    } else if ((m = /^route (\S+) \(registry (\d+)\)$/.exec(part))) {
      out.push(m[1] === 'refused' ? t('event.route.refused', { version: m[2] }) : t('event.route', { network: network(m[1]), version: m[2] }));
    } else if ((m = /^refused: (.*)$/.exec(part))) {
      out.push(t('event.refusedfor', { codes: refusalText(m[1]) }));
    } else if ((m = /^insured numbers (\d+) \(not recorded: no audit key\)$/.exec(part))) {
      out.push(t('event.insured.nokey', { n: m[1] }));
    } else if ((m = /^insured ((?:\S+ ?)+)$/.exec(part))) {
      out.push(t('event.insured', { n: m[1].trim().split(' ').length }));
    } else {
      out.push(refusalText(part));  // a refusal list continues after "; " (codes are not words)
    }
  }
  if (signers.length) out.splice(1, 0, t('event.signers', { list: signers.join(SEP()) }));
  return out.join(t('event.sep'));
}

// An audit record or lineage step ({kind, detail}) in the reader's language.
export function eventDetail(kind, detail) {
  const d = String(detail ?? '');
  const k = String(kind ?? '');
  let m;
  if (k === 'accepted' || k === 'refused') return admissionText(d) ?? d;
  if (k === 'duplicate') return t('event.duplicate');
  if (k === 'delivered' && (m = /^to (\S+) as (\S*); envelope (.*)$/.exec(d))) {
    return t('event.delivered', { network: network(m[1]), remote: m[2] || '–', digests: m[3] || '–' });
  }
  if (k === 'translation-receipt') return t('event.translation', { n: d.length });
  if (k === 'attempt-failed') return t('event.attemptfailed', { error: d });
  if (k === 'parked' && (m = /^([^:]*): (.*)$/s.exec(d))) return t('event.parked', { actor: m[1], reason: parkReason(m[2]) });
  if (k === 'redriven') return t('event.redriven', { actor: d });
  if (k === 'rejected-by-destination') return t('event.rejectedbydest', { reason: refusalText(d) });
  if (k === 'superseded' && (m = /^transfer (\d+) with the same subject/.exec(d))) return t('event.superseded', { id: m[1] });
  if (k.startsWith('notice-sent-')) return t('event.noticesent', { state: tv('receiptstate', k.slice('notice-sent-'.length)) });
  if (k.startsWith('receipt-')) {
    const state = tv('receiptstate', k.slice('receipt-'.length));
    return d ? t('event.receipt.reason', { state, reason: d }) : t('event.receipt', { state });
  }
  return d;
}
