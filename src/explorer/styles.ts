// The component's shadow-DOM styles (a constructed stylesheet: no inline <style>, so a strict CSP needs no
// 'unsafe-inline'). Colours and fonts can be overridden from outside through CSS custom properties and ::part().
export const CSS = `
:host { display: block; font: 15px/1.45 system-ui, sans-serif; color: var(--ie-fg, #1d1d1f); --ie-accent: #8a3b12; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
.banner { padding: 8px 12px; border-radius: 6px; margin: 0 0 10px; }
.banner.backend { background: #fff4d6; border: 1px solid #e0b64a; }
.banner.error { background: #fde4e1; border: 1px solid #d0493a; color: #6b1309; }
.banner.note { background: #e8f0fb; border: 1px solid #8aaee0; }
.status { display: grid; grid-template-columns: max-content 1fr max-content; gap: 4px 10px; align-items: center; margin-bottom: 12px; font-size: 13px; }
.status progress { width: 100%; height: 10px; }
.step[data-state="done"] label, .step[data-state="done"] .detail { color: #587a3c; }
.step { display: contents; }
textarea { width: 100%; min-height: 70px; font: inherit; padding: 6px; }
.controls { display: flex; flex-wrap: wrap; gap: 8px 14px; align-items: center; margin: 6px 0 10px; }
.controls input[type=number] { width: 5.5em; }
button { font: inherit; padding: 4px 12px; cursor: pointer; }
button[disabled] { cursor: default; }
.output { white-space: pre-wrap; border: 1px solid #ccc; border-radius: 6px; padding: 8px; min-height: 2.5em; background: #fafafa; }
.output .completion { color: var(--ie-accent); font-weight: 600; }
.meta { font-size: 12px; color: #666; margin: 4px 0; }
.results-head { display: flex; gap: 14px; align-items: baseline; margin-top: 14px; }
.results-head h3 { margin: 0; font-size: 16px; }
ol.results { padding-left: 0; list-style: none; margin: 6px 0; }
li.result { border: 1px solid #ddd; border-radius: 6px; margin: 4px 0; padding: 6px 8px; cursor: pointer; display: grid; grid-template-columns: 2.2em 1fr max-content; gap: 2px 8px; }
li.result[aria-selected="true"] { border-color: var(--ie-accent); background: #fff8f3; }
li.result .rank { color: #888; }
li.result .ref { font-weight: 600; }
li.result .score { font-variant-numeric: tabular-nums; }
li.result .text { grid-column: 2 / 4; white-space: pre-wrap; }
.detail h4 { margin: 12px 0 4px; font-size: 14px; }
.heatmap { white-space: pre-wrap; line-height: 1.9; font-family: ui-monospace, monospace; font-size: 13px; }
.heatmap .tok { border-radius: 3px; padding: 1px 0; }
.heatmap .tok.completion { text-decoration: underline 2px var(--ie-accent); text-underline-offset: 3px; }
.legend { font-size: 12px; color: #555; }
.legend .sw { display: inline-block; width: 1em; height: 0.8em; border-radius: 2px; vertical-align: middle; }
svg.layers text { font-size: 11px; fill: #333; }
svg.layers rect.pos { fill: #d2552f; }
svg.layers rect.neg { fill: #3b6fd0; }
svg.layers line.axis { stroke: #999; }
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
