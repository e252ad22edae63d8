// A small SVG line chart drawn with DOM calls (no library): one line per series over shared
// x labels, a y axis from 0 to a round maximum, and a legend.
const NS = 'http://www.w3.org/2000/svg';

function el(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function niceMax(v) {
  if (v <= 4) return 4;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

// series: [{name, cls, values: [numbers]}]; labels: x labels (same length as values).
export function lineChart({ series, labels, title, testid, width = 640, height = 220 }) {
  const pad = { l: 40, r: 12, t: 14, b: 42 };
  const w = width - pad.l - pad.r;
  const hgt = height - pad.t - pad.b;
  const n = Math.max(1, labels.length);
  const max = niceMax(Math.max(0, ...series.flatMap((s) => s.values)));
  const x = (i) => pad.l + (n === 1 ? w / 2 : (i * w) / (n - 1));
  const y = (v) => pad.t + hgt - (v / max) * hgt;

  const svg = el('svg', {
    viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img', 'data-testid': testid || 'chart',
    preserveAspectRatio: 'xMidYMid meet',
  });
  svg.appendChild(el('title', {}, title || ''));
  for (let k = 0; k <= 4; k++) {
    const v = (max * k) / 4;
    svg.appendChild(el('line', { x1: pad.l, x2: pad.l + w, y1: y(v), y2: y(v), class: 'gridline' }));
    svg.appendChild(el('text', { x: pad.l - 6, y: y(v) + 4, class: 'axis', 'text-anchor': 'end' },
      Number.isInteger(v) ? String(v) : v.toFixed(1)));
  }
  const step = Math.max(1, Math.ceil(n / 8));
  labels.forEach((lab, i) => {
    if (i % step !== 0 && i !== n - 1) return;
    svg.appendChild(el('text', { x: x(i), y: pad.t + hgt + 16, class: 'axis', 'text-anchor': 'middle' }, lab));
  });
  series.forEach((s) => {
    const pts = s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    svg.appendChild(el('polyline', { points: pts, class: 'series ' + s.cls, fill: 'none', 'data-series': s.name }));
    s.values.forEach((v, i) => {
      const c = el('circle', { cx: x(i), cy: y(v), r: v > 0 ? 3 : 1.5, class: 'dot ' + s.cls });
      c.appendChild(el('title', {}, `${labels[i]}  ${s.name}: ${v}`));
      svg.appendChild(c);
    });
  });
  let lx = pad.l;
  series.forEach((s) => {
    svg.appendChild(el('rect', { x: lx, y: height - 14, width: 12, height: 4, class: 'swatch ' + s.cls }));
    const label = el('text', { x: lx + 16, y: height - 9, class: 'legend' }, s.name);
    svg.appendChild(label);
    lx += 16 + 12 * s.name.length + 24;
  });
  return svg;
}
