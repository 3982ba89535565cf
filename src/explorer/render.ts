// DOM building for the explorer. Data (training texts, prompts, model output, ids, layer names) only ever reaches
// the page through textContent / attribute values, never through innerHTML: the corpus, the model and the index
// are all untrusted input.

type Attrs = Record<string, string | number | boolean | undefined>;

/** An element with attributes (set with setAttribute, so values are never parsed as markup) and text/children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Node | string | null | undefined)[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return el;
}

const SVG = 'http://www.w3.org/2000/svg';
export function svg(tag: string, attrs: Attrs = {}): SVGElement {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== false) el.setAttribute(k, String(v));
  return el;
}

export function formatScore(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(3);
  return v.toFixed(a < 1 ? 4 : a < 100 ? 3 : 1);
}

/** Background colour of a heat value in [-1, 1]: warm for positive (supports), cool for negative (opposes). */
export function heatColor(x: number): string {
  const a = Math.min(1, Math.abs(x));
  return x >= 0 ? `rgba(220, 60, 30, ${(0.08 + 0.82 * a).toFixed(3)})` : `rgba(40, 100, 220, ${(0.08 + 0.82 * a).toFixed(3)})`;
}

export interface HeatToken {
  text: string;
  /** contribution of this token (undefined: none, e.g. the start mark) */
  value?: number;
  /** part of the model's completion (not the prompt) */
  completion: boolean;
}

/** The per-token heatmap: one span per token, coloured by value / max |value|, the value in its title. */
export function heatmap(tokens: HeatToken[]): HTMLElement {
  const max = Math.max(1e-30, ...tokens.map((t) => Math.abs(t.value ?? 0)));
  const box = h('div', { class: 'heatmap', part: 'heatmap' });
  tokens.forEach((t, i) => {
    const span = h('span', { class: `tok${t.completion ? ' completion' : ''}`, 'data-index': i, 'data-value': t.value === undefined ? undefined : t.value.toPrecision(6) });
    span.textContent = t.text.replace(/\n/g, '⏎\n');
    if (t.value !== undefined) {
      span.style.backgroundColor = heatColor(t.value / max);
      span.title = `token ${i}: ${formatScore(t.value)}`;
    } else span.title = `token ${i}`;
    box.append(span);
  });
  return box;
}

/** Horizontal bars, one per layer, scaled by max |value|; negative bars in the cool colour. */
export function layerChart(names: string[], values: number[]): SVGElement {
  const rowH = 16, labelW = 190, barW = 240, valueW = 80;
  const width = labelW + barW + valueW, height = names.length * rowH + 4;
  const max = Math.max(1e-30, ...values.map((v) => Math.abs(v)));
  const hasNeg = values.some((v) => v < 0);
  const zero = labelW + (hasNeg ? barW / 2 : 0);
  const scale = hasNeg ? barW / 2 : barW;
  const root = svg('svg', { class: 'layers', part: 'layers', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img' });
  const title = svg('title');
  title.textContent = 'Contribution of each layer to the score';
  root.append(title);
  names.forEach((name, i) => {
    const v = values[i] ?? 0;
    const y = 2 + i * rowH;
    const g = svg('g', { class: 'layer', 'data-layer': name, 'data-value': v.toPrecision(6) });
    const label = svg('text', { x: labelW - 6, y: y + rowH - 4, 'text-anchor': 'end', class: 'label' });
    label.textContent = shortLayer(name);
    const w = (Math.abs(v) / max) * scale;
    const bar = svg('rect', { x: v >= 0 ? zero : zero - w, y: y + 2, width: Math.max(0.5, w), height: rowH - 4, class: v >= 0 ? 'pos' : 'neg' });
    const t = svg('title');
    t.textContent = `${name}: ${formatScore(v)}`;
    bar.append(t);
    const val = svg('text', { x: labelW + barW + 6, y: y + rowH - 4, class: 'value' });
    val.textContent = formatScore(v);
    g.append(label, bar, val);
    root.append(g);
  });
  if (hasNeg) root.append(svg('line', { x1: zero, x2: zero, y1: 0, y2: height, class: 'axis' }));
  return root;
}

/** "/h.0/mlp/c_fc/MatMul" -> "h.0 mlp.c_fc" (the full name stays in the bar's title). */
export function shortLayer(name: string): string {
  const parts = name.split('/').filter(Boolean);
  if (parts.length > 1 && /^(MatMul|Gemm)(_\d+)?$/.test(parts[parts.length - 1])) parts.pop();
  if (parts.length >= 2) return `${parts[0]} ${parts.slice(1).join('.')}`;
  return parts.join('.') || name;
}
