// Minimal SVG charts in plain TypeScript (no dependencies): a line chart (optionally log2 x axis, dashed series,
// horizontal reference lines) and a grouped horizontal bar chart. Text is escaped; output is a standalone SVG file.

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];
const fmtTick = (v: number) => (Math.abs(v) >= 1000 ? v.toLocaleString('en-US', { maximumFractionDigits: 0 }) : Number(v.toPrecision(3)).toString());

export interface Series {
  name: string;
  points: [number, number][];
  dashed?: boolean;
  color?: string;
}

export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** horizontal reference lines (e.g. an exact-mode ceiling or a goal) */
  refs?: { y: number; label: string; color?: string }[];
  log2x?: boolean;
  yMin?: number;
  yMax?: number;
}

function niceTicks(lo: number, hi: number, n = 5): number[] {
  const span = hi - lo || 1;
  const step0 = span / n, mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= step0)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * span; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

export function lineChart(c: LineChart): string {
  const W = 720, H = 420, L = 64, R = 210, T = 40, B = 52;
  const pw = W - L - R, ph = H - T - B;
  const tx = (x: number) => (c.log2x ? Math.log2(x) : x);
  const xs = c.series.flatMap((s) => s.points.map((p) => tx(p[0])));
  const ys = [...c.series.flatMap((s) => s.points.map((p) => p[1])), ...(c.refs ?? []).map((r) => r.y)];
  let x0 = Math.min(...xs), x1 = Math.max(...xs);
  if (x0 === x1) { x0 -= 1; x1 += 1; }
  let y0 = c.yMin ?? Math.min(0, ...ys), y1 = c.yMax ?? Math.max(...ys);
  if (y0 === y1) y1 = y0 + 1;
  const pad = (y1 - y0) * 0.05;
  if (c.yMax === undefined) y1 += pad;
  const X = (x: number) => L + ((tx(x) - x0) / (x1 - x0)) * pw, Y = (y: number) => T + ph - ((y - y0) / (y1 - y0)) * ph;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${esc(c.title)}</text>`);
  for (const v of niceTicks(y0, y1)) {
    parts.push(`<line x1="${L}" x2="${L + pw}" y1="${Y(v)}" y2="${Y(v)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${L - 6}" y="${Y(v) + 4}" text-anchor="end">${fmtTick(v)}</text>`);
  }
  const xticks = c.log2x ? [...new Set(c.series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b) : niceTicks(x0, x1);
  for (const v of xticks) parts.push(`<text x="${X(v)}" y="${T + ph + 18}" text-anchor="middle">${fmtTick(v)}</text>`);
  parts.push(`<rect x="${L}" y="${T}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`);
  parts.push(`<text x="${L + pw / 2}" y="${H - 12}" text-anchor="middle">${esc(c.xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${T + ph / 2}) rotate(-90)" text-anchor="middle">${esc(c.yLabel)}</text>`);
  let ly = T + 6;
  const legend = (color: string, dash: string, label: string) => {
    parts.push(`<line x1="${L + pw + 12}" x2="${L + pw + 40}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`);
    parts.push(`<text x="${L + pw + 46}" y="${ly + 4}">${esc(label)}</text>`);
    ly += 18;
  };
  (c.refs ?? []).forEach((r, i) => {
    const color = r.color ?? '#555';
    parts.push(`<line x1="${L}" x2="${L + pw}" y1="${Y(r.y)}" y2="${Y(r.y)}" stroke="${color}" stroke-width="1.5" stroke-dasharray="2 3"/>`);
    legend(color, '2 3', r.label);
    void i;
  });
  c.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    const pts = [...s.points].sort((a, b) => a[0] - b[0]);
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''} points="${pts.map((p) => `${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(' ')}"/>`);
    for (const p of pts) parts.push(`<circle cx="${X(p[0]).toFixed(1)}" cy="${Y(p[1]).toFixed(1)}" r="3" fill="${color}"/>`);
    legend(color, s.dashed ? '6 4' : '', s.name);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

export interface BarChart {
  title: string;
  xLabel: string;
  bars: { label: string; value: number; color?: string }[];
  refs?: { x: number; label: string }[];
  log10?: boolean;
}

/** Horizontal bars, one per row (label left, value at the bar's end). */
export function barChart(c: BarChart): string {
  const rowH = 24, R = 90, T = 40, B = 44;
  const L = Math.max(200, 20 + Math.ceil(6.6 * Math.max(...c.bars.map((b) => b.label.length)))), W = L + 480;
  const H = T + B + rowH * c.bars.length;
  const pw = W - L - R;
  const f = (v: number) => (c.log10 ? Math.log10(Math.max(v, 1e-9)) : v);
  const vals = c.bars.map((b) => f(b.value)).concat((c.refs ?? []).map((r) => f(r.x)));
  const lo = c.log10 ? Math.floor(Math.min(0, ...vals)) : 0, hi = c.log10 ? Math.ceil(Math.max(...vals)) : Math.max(...vals) * 1.05 || 1;
  const X = (v: number) => L + ((f(v) - lo) / (hi - lo)) * pw;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${esc(c.title)}</text>`);
  const ticks = c.log10 ? Array.from({ length: hi - lo + 1 }, (_, i) => 10 ** (lo + i)) : niceTicks(0, hi);
  for (const v of ticks) {
    parts.push(`<line x1="${X(v)}" x2="${X(v)}" y1="${T}" y2="${T + rowH * c.bars.length}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${X(v)}" y="${T + rowH * c.bars.length + 16}" text-anchor="middle">${fmtTick(v)}</text>`);
  }
  c.bars.forEach((b, i) => {
    const y = T + i * rowH;
    parts.push(`<text x="${L - 8}" y="${y + rowH / 2 + 4}" text-anchor="end">${esc(b.label)}</text>`);
    parts.push(`<rect x="${L}" y="${y + 4}" width="${Math.max(1, X(b.value) - L).toFixed(1)}" height="${rowH - 8}" fill="${b.color ?? PALETTE[0]}"/>`);
    parts.push(`<text x="${(X(b.value) + 4).toFixed(1)}" y="${y + rowH / 2 + 4}">${fmtTick(b.value)}</text>`);
  });
  for (const r of c.refs ?? []) {
    parts.push(`<line x1="${X(r.x)}" x2="${X(r.x)}" y1="${T - 4}" y2="${T + rowH * c.bars.length}" stroke="#d62728" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${X(r.x) + 3}" y="${T - 6}" fill="#d62728">${esc(r.label)}</text>`);
  }
  parts.push(`<text x="${L + pw / 2}" y="${H - 8}" text-anchor="middle">${esc(c.xLabel)}</text>`);
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
