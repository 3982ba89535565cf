// The component's shadow-DOM styles (a constructed stylesheet: no inline <style>, so a strict CSP needs no
// 'unsafe-inline'). Colours and fonts can be overridden from outside through CSS custom properties and ::part().
export const CSS = `
:host { display: block; font: 15px/1.45 system-ui, sans-serif; color: var(--ie-fg, #1d1d1f); --ie-accent: #8a3b12; --ie-mark: #ffe08a; min-width: 0; overflow-wrap: anywhere; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
.banner { padding: 8px 12px; border-radius: 6px; margin: 0 0 10px; }
.banner.backend { background: #fff4d6; border: 1px solid #e0b64a; }
.banner.error { background: #fde4e1; border: 1px solid #d0493a; color: #6b1309; }
.banner.note { background: #e8f0fb; border: 1px solid #8aaee0; }
.status { margin-bottom: 12px; font-size: 13px; }
.status-line { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 8px; min-height: 1.6em; }
.status-line .status-label { font-weight: 600; }
.status-line[data-state="idle"] .status-label { color: #587a3c; }
.status-line .status-bar { flex: 0 1 180px; width: 180px; height: 10px; min-width: 60px; }
.status-line .status-text { flex: 1 1 14em; min-width: 0; }
.status-line .eta { color: #555; }
.status details.steps { margin-top: 2px; color: #555; }
.status details.steps summary { cursor: pointer; width: max-content; font-size: 12px; }
.steps-grid { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 2px 10px; align-items: center; margin-top: 4px; }
.step { display: contents; }
.step progress { display: none; }
.step[data-state="running"] progress { display: block; width: 100%; height: 8px; grid-column: 2; }
.step[data-state="running"] .detail { grid-column: 2; }
.step[data-state="done"] label, .step[data-state="done"] .detail { color: #587a3c; }
.step[data-state="stopped"] label, .step[data-state="stopped"] .detail { color: #8a1f12; }
.step .detail { min-width: 0; }
textarea { width: 100%; min-height: 70px; font: inherit; padding: 6px; }
.controls { display: flex; flex-wrap: wrap; gap: 8px 14px; align-items: center; margin: 6px 0 10px; }
.controls input[type=number] { width: 5.5em; }
.controls .action { display: inline-flex; align-items: center; gap: 6px; white-space: nowrap; }
.kbd { font-size: 11px; color: #666; white-space: nowrap; }
kbd { font: 11px ui-monospace, monospace; border: 1px solid #bbb; border-bottom-width: 2px; border-radius: 3px; padding: 0 4px; background: #f6f6f6; color: #333; }
.reason { font-size: 13px; color: #8a3b12; }
button { font: inherit; padding: 4px 12px; cursor: pointer; }
button[disabled] { cursor: default; }
.output { white-space: pre-wrap; border: 1px solid #ccc; border-radius: 6px; padding: 8px; min-height: 2.5em; background: #fafafa; }
.output .completion { color: var(--ie-accent); font-weight: 600; }
mark { background: var(--ie-mark); color: inherit; border-radius: 2px; }
.output mark.sup { box-shadow: 0 1px 0 var(--ie-accent); padding: 0 1px; }
.meta { font-size: 12px; color: #666; margin: 4px 0; }
details.howto { margin: 10px 0 0; font-size: 13px; border: 1px solid #e2dccf; border-radius: 6px; padding: 4px 10px; background: #fdfbf6; }
details.howto summary { cursor: pointer; font-weight: 600; }
details.howto ul { margin: 6px 0; padding-left: 18px; }
.results-head { display: flex; flex-wrap: wrap; gap: 4px 14px; align-items: baseline; margin-top: 14px; }
.results-head h3 { margin: 0; font-size: 16px; }
.results-box[data-stale] ol.results, .results-box[data-stale] .detail { opacity: 0.45; filter: grayscale(0.6); }
.stale-note { margin: 6px 0; padding: 6px 10px; border-radius: 6px; background: #fff4d6; border: 1px solid #e0b64a; font-size: 13px; }
ol.results { padding-left: 0; list-style: none; margin: 6px 0; }
li.result { border: 1px solid #ddd; border-radius: 6px; margin: 4px 0; padding: 6px 8px; cursor: pointer; display: grid; grid-template-columns: 2.2em minmax(0, 1fr) max-content; gap: 2px 8px; }
li.result:focus { outline: 2px solid var(--ie-accent); outline-offset: 1px; }
li.result[aria-selected="true"] { border-color: var(--ie-accent); background: #fff8f3; }
li.result .rank { color: #888; }
li.result .ref { font-weight: 600; min-width: 0; }
li.result .score { font-variant-numeric: tabular-nums; font-weight: 600; text-align: right; }
li.result .share-bar { grid-column: 2 / 4; height: 4px; background: #eee; border-radius: 2px; overflow: hidden; }
li.result .share-bar > span { display: block; height: 100%; background: #d2552f; }
li.result .text { grid-column: 2 / 4; white-space: pre-wrap; min-width: 0; }
.detail h4 { margin: 12px 0 4px; font-size: 14px; }
.heatmap { white-space: pre-wrap; line-height: 1.9; font-family: ui-monospace, monospace; font-size: 13px; }
.heatmap .tok { border-radius: 3px; padding: 1px 0; }
.heatmap .tok.completion { text-decoration: underline 2px var(--ie-accent); text-underline-offset: 3px; }
.legend { font-size: 12px; color: #555; }
.legend .sw { display: inline-block; width: 1em; height: 0.8em; border-radius: 2px; vertical-align: middle; }
svg.layers { display: block; width: 100%; max-width: 440px; height: auto; }
svg.layers text { font-size: 11px; fill: #333; }
svg.layers text.group { font-weight: 600; font-size: 11.5px; }
svg.layers text.value, svg.layers text.tick-label, svg.layers text.caption { fill: #555; font-size: 10px; font-variant-numeric: tabular-nums; }
svg.layers rect.pos { fill: #d2552f; }
svg.layers rect.neg { fill: #3b6fd0; }
svg.layers .axis line { stroke: #999; }
svg.layers .axis line.zero { stroke: #bbb; }
`;

let sheet: CSSStyleSheet | undefined;

/** Applies the styles to a shadow root (one shared constructed sheet per page). */
export function adoptStyles(root: ShadowRoot): void {
  try {
    sheet ??= new CSSStyleSheet();
    if (!sheet.cssRules.length) sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];
  } catch {
    const s = document.createElement('style');
    s.textContent = CSS;
    root.append(s);
  }
}
