// Two small charts as SVG, rendered to PNG with @resvg/resvg-js (pinned in
// package.json). Hand-written SVG keeps the dependency to one renderer.
import { Resvg } from '@resvg/resvg-js';

const FONT = 'DejaVu Sans, Liberation Sans, Arial, sans-serif';
const COLORS = ['#1f77b4', '#aec7e8', '#ff7f0e', '#ffbb78', '#2ca02c', '#98df8a'];
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');

function frame(width, height, title, body) {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="${FONT}">
<rect width="100%" height="100%" fill="white"/>
<text x="${width / 2}" y="24" font-size="16" text-anchor="middle" font-weight="bold">${esc(title)}</text>
${body}</svg>`;
}

function legend(x, y, labels, colors = COLORS) {
  return labels
    .map((l, i) => (colors[i] ? `<rect x="${x}" y="${y + i * 18}" width="12" height="12" fill="${colors[i]}"/>` : '') +
      `<text x="${x + 18}" y="${y + i * 18 + 11}" font-size="12">${esc(l)}</text>`)
    .join('\n');
}

/** Grouped bars: groups × series, values in ms. */
export function barChart({ title, groups, series, values, yLabel }) {
  const W = 900, H = 460, left = 70, right = 230, top = 50, bottom = 70;
  const plotW = W - left - right, plotH = H - top - bottom;
  const max = Math.max(...values.flat()) * 1.1;
  const step = max > 200 ? 50 : 25;
  const y = (v) => top + plotH - (v / max) * plotH;
  let body = '';
  for (let t = 0; t <= max; t += step) {
    body += `<line x1="${left}" x2="${left + plotW}" y1="${y(t)}" y2="${y(t)}" stroke="#ddd"/>` +
      `<text x="${left - 6}" y="${y(t) + 4}" font-size="11" text-anchor="end">${t}</text>\n`;
  }
  const gw = plotW / groups.length, bw = (gw * 0.8) / series.length;
  groups.forEach((g, gi) => {
    series.forEach((_, si) => {
      const v = values[gi][si];
      const x = left + gi * gw + gw * 0.1 + si * bw;
      body += `<rect x="${x}" y="${y(v)}" width="${bw - 2}" height="${top + plotH - y(v)}" fill="${COLORS[si]}"/>\n`;
    });
    body += `<text x="${left + gi * gw + gw / 2}" y="${top + plotH + 18}" font-size="12" text-anchor="middle">${esc(g)}</text>\n`;
  });
  body += `<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#333"/>`;
  body += `<line x1="${left}" x2="${left + plotW}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`;
  body += `<text transform="translate(18 ${top + plotH / 2}) rotate(-90)" font-size="12" text-anchor="middle">${esc(yLabel)}</text>`;
  body += legend(left + plotW + 15, top + 10, series);
  return frame(W, H, title, body);
}

/** Log-log lines: x values (users) and one array of y per series. */
export function logLogChart({ title, xs, series, values, xLabel, yLabel }) {
  const W = 900, H = 460, left = 80, right = 230, top = 50, bottom = 70;
  const plotW = W - left - right, plotH = H - top - bottom;
  const lx = xs.map(Math.log10);
  // A null series is a legend line continuing the previous label.
  const colors = values.map((v, i) => (v ? ['#1f77b4', '#ff7f0e'][values.slice(0, i).filter(Boolean).length] : null));
  const ally = values.filter(Boolean).flat().filter((v) => v > 0);
  const [y0, y1] = [Math.floor(Math.log10(Math.min(...ally))), Math.ceil(Math.log10(Math.max(...ally)))];
  const [x0, x1] = [Math.floor(Math.min(...lx)), Math.ceil(Math.max(...lx))];
  const X = (v) => left + ((Math.log10(v) - x0) / (x1 - x0)) * plotW;
  const Y = (v) => top + plotH - ((Math.log10(v) - y0) / (y1 - y0)) * plotH;
  const fmt = (e) => (e >= 6 ? `${10 ** (e - 6)}M` : e >= 3 ? `${10 ** (e - 3)}k` : `${10 ** e}`);
  let body = '';
  for (let e = y0; e <= y1; e++) {
    body += `<line x1="${left}" x2="${left + plotW}" y1="${Y(10 ** e)}" y2="${Y(10 ** e)}" stroke="#ddd"/>` +
      `<text x="${left - 6}" y="${Y(10 ** e) + 4}" font-size="11" text-anchor="end">${fmt(e)}</text>\n`;
  }
  for (let e = x0; e <= x1; e++) {
    body += `<line y1="${top}" y2="${top + plotH}" x1="${X(10 ** e)}" x2="${X(10 ** e)}" stroke="#eee"/>` +
      `<text x="${X(10 ** e)}" y="${top + plotH + 18}" font-size="11" text-anchor="middle">${fmt(e)}</text>\n`;
  }
  values.forEach((ys, si) => {
    if (!ys) return;
    const d = ys.map((v, i) => `${i ? 'L' : 'M'}${X(xs[i]).toFixed(1)},${Y(Math.max(v, 10 ** y0)).toFixed(1)}`).join(' ');
    body += `<path d="${d}" fill="none" stroke="${colors[si]}" stroke-width="2.5"/>\n`;
  });
  body += `<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#333"/>`;
  body += `<line x1="${left}" x2="${left + plotW}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`;
  body += `<text x="${left + plotW / 2}" y="${H - 25}" font-size="12" text-anchor="middle">${esc(xLabel)}</text>`;
  body += `<text transform="translate(18 ${top + plotH / 2}) rotate(-90)" font-size="12" text-anchor="middle">${esc(yLabel)}</text>`;
  body += legend(left + plotW + 15, top + 10, series, colors);
  return frame(W, H, title, body);
}

export function toPng(svg) {
  return new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng();
}
