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

/** What a layer name means to a reader: its block ("Block 1", 1-based; "" outside the blocks) and its part. */
export interface LayerLabel {
  group: string;
  label: string;
}

const ATTN = /attn|attention/i;
const MLP = /mlp|ffn|feed_?forward|intermediate/i;

/**
 * "/h.0/attn/c_attn/MatMul" -> {group: "Block 1", label: "attention in (q, k, v)"}; "/lm_head/MatMul" -> {group: "",
 * label: "output head"}. Knows GPT-2, Llama/Qwen/NeoX and BERT-style names; anything else keeps its last parts.
 */
export function describeLayer(name: string): LayerLabel {
  const parts = name.split('/').filter(Boolean);
  if (parts.length > 1 && /^(MatMul|Gemm|Conv)(_\d+)?$/.test(parts[parts.length - 1])) parts.pop();
  const joined = parts.join('/');
  const m = /(?:^|[/._])(?:h|layers?|blocks?)[._](\d+)(?=$|[/._])/i.exec(joined);
  const group = m ? `Block ${Number(m[1]) + 1}` : '';
  const rest = m ? joined.slice(m.index + m[0].length) : joined;
  const last = (rest.split(/[/.]/).filter(Boolean).pop() ?? parts[parts.length - 1] ?? name).toLowerCase();
  const attn = ATTN.test(rest), mlp = !attn && (MLP.test(rest) || /^(c_fc|fc\d?|up_proj|gate_proj|down_proj|dense_h_to_4h|dense_4h_to_h|w[123])$/.test(last));
  if (attn) {
    if (/^(c_attn|qkv|query_key_value|in_proj|wqkv)$/.test(last)) return { group, label: 'attention in (q, k, v)' };
    if (/^(q_proj|query|q|wq)$/.test(last)) return { group, label: 'attention query' };
    if (/^(k_proj|key|k|wk)$/.test(last)) return { group, label: 'attention key' };
    if (/^(v_proj|value|v|wv)$/.test(last)) return { group, label: 'attention value' };
    if (/^(c_proj|o_proj|out_proj|dense|wo|output)$/.test(last)) return { group, label: 'attention out' };
    return { group, label: `attention ${last}` };
  }
  if (mlp) {
    if (/^(gate_proj|w1|gate)$/.test(last)) return { group, label: 'MLP gate' };
    if (/^(up_proj|w3|up)$/.test(last)) return { group, label: 'MLP up' };
    if (/^(c_fc|fc1|fc_in|dense_h_to_4h|intermediate|dense)$/.test(last) && !/output/i.test(rest)) return { group, label: 'MLP in' };
    if (/^(c_proj|fc2|fc_out|down_proj|dense_4h_to_h|w2|dense)$/.test(last)) return { group, label: 'MLP out' };
    return { group, label: `MLP ${last}` };
  }
  if (/lm_head|embed_out|output_projection|^head$|logits/i.test(joined)) return { group, label: 'output head' };
  if (/classifier|score|pooler/i.test(joined)) return { group, label: last === 'classifier' || last === 'score' ? 'classifier head' : last.replace(/_/g, ' ') };
  return { group, label: parts.slice(-2).join(' ') || name };
}

/** A round step for an axis spanning [0, max]. */
function niceStep(max: number): number {
  const raw = max / 2;
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f >= 5 ? 5 : f >= 2 ? 2 : 1) * p;
}

/**
 * Horizontal bars, one per layer, grouped under a heading per block ("Block 1", once), each labelled with its part
 * ("attention in (q, k, v)", "MLP out"), scaled by max |value|, with an x axis (ticks and a caption); negative bars
 * in the cool colour. The full layer name and value are in each bar's tooltip. Scales to its container's width.
 */
export function layerChart(names: string[], values: number[], caption = 'contribution to the score'): SVGElement {
  const rowH = 16, groupH = 17, labelW = 132, barW = 170, valueW = 58, axisH = 34;
  const width = labelW + barW + valueW;
  const max0 = Math.max(1e-30, ...values.map((v) => Math.abs(v)));
  const hasNeg = values.some((v) => v < 0);
  const step = niceStep(max0);
  const max = Math.max(max0, Math.ceil(max0 / step - 1e-9) * step);
  const zero = labelW + (hasNeg ? barW / 2 : 0);
  const scale = hasNeg ? barW / 2 : barW;
  const plan: ({ kind: 'group'; text: string } | { kind: 'layer'; i: number; label: string })[] = [];
  let prev: string | undefined;
  names.forEach((name, i) => {
    const d = describeLayer(name);
    if (d.group && d.group !== prev) plan.push({ kind: 'group', text: d.group });
    prev = d.group;
    plan.push({ kind: 'layer', i, label: d.label });
  });
  const plotH = plan.reduce((a, r) => a + (r.kind === 'group' ? groupH : rowH), 0) + 4;
  const height = plotH + axisH;
  const root = svg('svg', { class: 'layers', part: 'layers', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': `${caption}, per layer` });
  const title = svg('title');
  title.textContent = `Per-layer ${caption}`;
  root.append(title);
  let y = 2;
  for (const r of plan) {
    if (r.kind === 'group') {
      const t = svg('text', { x: 2, y: y + groupH - 4, class: 'group' });
      t.textContent = r.text;
      root.append(t);
      y += groupH;
      continue;
    }
    const name = names[r.i], v = values[r.i] ?? 0;
    const g = svg('g', { class: 'layer', 'data-layer': name, 'data-value': v.toPrecision(6) });
    const label = svg('text', { x: labelW - 6, y: y + rowH - 4, 'text-anchor': 'end', class: 'label' });
    label.textContent = r.label;
    const lt = svg('title');
    lt.textContent = name;
    label.append(lt);
    const w = (Math.abs(v) / max) * scale;
    const bar = svg('rect', { x: v >= 0 ? zero : zero - w, y: y + 2, width: Math.max(0.5, w), height: rowH - 4, class: v >= 0 ? 'pos' : 'neg' });
    const t = svg('title');
    t.textContent = `${name}: ${formatScore(v)}`;
    bar.append(t);
    const val = svg('text', { x: width - 2, y: y + rowH - 4, 'text-anchor': 'end', class: 'value' });
    val.textContent = formatScore(v);
    g.append(label, bar, val);
    root.append(g);
    y += rowH;
  }
  // the x axis: the zero line through the plot, a baseline with ticks, and the caption
  const axis = svg('g', { class: 'axis' });
  axis.append(svg('line', { x1: zero, x2: zero, y1: 0, y2: plotH, class: 'zero' }));
  axis.append(svg('line', { x1: labelW, x2: labelW + barW, y1: plotH, y2: plotH, class: 'base' }));
  const ticks: number[] = [];
  for (let v = hasNeg ? -max : 0; v <= max + step * 1e-6; v += step) ticks.push(Math.abs(v) < step * 1e-6 ? 0 : v);
  const every = Math.ceil(ticks.length / (hasNeg ? 5 : 4));
  ticks.forEach((v, i) => {
    const x = zero + (v / max) * scale;
    axis.append(svg('line', { x1: x, x2: x, y1: plotH, y2: plotH + 4, class: 'tick' }));
    if (i % every && v !== 0 && i !== ticks.length - 1) return;
    const t = svg('text', { x, y: plotH + 14, 'text-anchor': i === ticks.length - 1 ? 'end' : v === 0 && !hasNeg ? 'start' : 'middle', class: 'tick-label' });
    t.textContent = formatTick(v);
    axis.append(t);
  });
  const cap = svg('text', { x: labelW + barW / 2, y: plotH + 29, 'text-anchor': 'middle', class: 'caption' });
  cap.textContent = caption;
  axis.append(cap);
  root.append(axis);
  return root;
}

function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-2) return v.toExponential(0);
  return String(+v.toPrecision(3));
}

/** "/h.0/mlp/c_fc/MatMul" -> "Block 1 MLP in" (the full name stays in the bar's title). */
export function shortLayer(name: string): string {
  const d = describeLayer(name);
  return d.group ? `${d.group} ${d.label}` : d.label;
}

// ---- explaining scores and highlighting what a training text supports

/**
 * Each score's share of the total positive influence of the given (shown) results, in [0, 1]; undefined for a score
 * <= 0 (that text opposes the query, or does nothing for it).
 */
export function shares(scores: number[]): (number | undefined)[] {
  const pos = scores.reduce((a, s) => a + (s > 0 && Number.isFinite(s) ? s : 0), 0);
  return scores.map((s) => (s > 0 && pos > 0 && Number.isFinite(s) ? s / pos : undefined));
}

export function formatShare(x: number | undefined): string {
  if (x === undefined) return '—';
  const p = x * 100;
  return `${p >= 9.95 ? p.toFixed(0) : p >= 0.095 ? p.toFixed(1) : '<0.1'} %`;
}

/**
 * Which query tokens a training text supports: positive contribution at least `frac` of the largest one, counted
 * from token `from` on (the completion's first token when there is a completion: only those are scored).
 */
export function supportedTokens(values: (number | undefined)[], from: number, frac = 0.25): boolean[] {
  let max = 0;
  values.forEach((v, i) => {
    if (i >= from && v !== undefined && v > max) max = v;
  });
  return values.map((v, i) => i >= from && max > 0 && v !== undefined && v > 0 && v >= frac * max);
}

const WORD = /[\p{L}\p{N}]+(?:['’][\p{L}]+)*/gu;
// words too common in the corpus to say anything when they match
const STOP = new Set(('a an and are as at be but by for from he her him his i in is it its me my not o of on or our shall ' +
  'she so that the thee their them then there they thou thy to unto up us was we were which who with ye you your').split(' '));

export function normWord(w: string): string {
  return w.toLowerCase().replace(/’/g, "'");
}

/** The words of `tokens` (joined) that overlap a supported token, normalised, without very common words. */
export function supportedWords(tokens: string[], supported: boolean[]): Set<string> {
  let text = '';
  const flag: boolean[] = [];
  tokens.forEach((t, i) => {
    text += t;
    for (let k = 0; k < t.length; k++) flag.push(supported[i]);
  });
  const out = new Set<string>();
  for (const m of text.matchAll(WORD)) {
    const w = normWord(m[0]);
    if (STOP.has(w)) continue;
    for (let k = m.index!; k < m.index! + m[0].length; k++)
      if (flag[k]) {
        out.add(w);
        break;
      }
  }
  return out;
}

/** `text` as nodes: the words in `words` wrapped in <mark class="match">, the rest as text. */
export function markWords(text: string, words: Set<string>): Node[] {
  const out: Node[] = [];
  let at = 0;
  if (words.size)
    for (const m of text.matchAll(WORD)) {
      if (!words.has(normWord(m[0]))) continue;
      if (m.index! > at) out.push(document.createTextNode(text.slice(at, m.index)));
      out.push(h('mark', { class: 'match' }, m[0]));
      at = m.index! + m[0].length;
    }
  if (at < text.length || !out.length) out.push(document.createTextNode(text.slice(at)));
  return out;
}

/** Tokens as nodes: runs of supported tokens as one <mark class="sup"> span each, the rest as text. */
export function markTokens(tokens: string[], supported: boolean[], title?: (i: number) => string): Node[] {
  const out: Node[] = [];
  let i = 0;
  while (i < tokens.length) {
    let j = i;
    if (supported[i]) {
      while (j < tokens.length && supported[j]) j++;
      const m = h('mark', { class: 'sup' }, tokens.slice(i, j).join(''));
      if (title) m.title = tokens.slice(i, j).map((_, k) => title(i + k)).join('\n');
      out.push(m);
    } else {
      while (j < tokens.length && !supported[j]) j++;
      out.push(document.createTextNode(tokens.slice(i, j).join('')));
    }
    i = j;
  }
  return out;
}
