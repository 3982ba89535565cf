// The README's checked parts: a fenced block or a table right after a `<!-- clean-room: NAME -->` marker line.
import { readFileSync } from 'node:fs';

export function readmeText(path: string): string {
  return readFileSync(path, 'utf8');
}

function afterMarker(text: string, name: string): string[] {
  const lines = text.split('\n');
  const i = lines.findIndex((l) => l.trim() === `<!-- clean-room: ${name} -->`);
  if (i < 0) throw new Error(`README: no "<!-- clean-room: ${name} -->" marker`);
  return lines.slice(i + 1);
}

/** The code of the fenced block after the marker. */
export function readmeBlock(text: string, name: string): string {
  const rest = afterMarker(text, name);
  if (!rest[0]?.startsWith('```')) throw new Error(`README: the "${name}" marker is not followed by a fenced code block`);
  const end = rest.findIndex((l, k) => k > 0 && l.startsWith('```'));
  if (end < 0) throw new Error(`README: the "${name}" code block is not closed`);
  return rest.slice(1, end).join('\n') + '\n';
}

/** The names in backticks in the first column of the table after the marker (header and rule skipped). */
export function readmeTableNames(text: string, name: string): string[] {
  const rest = afterMarker(text, name);
  const rows: string[] = [];
  for (const l of rest) {
    if (!l.startsWith('|')) break;
    rows.push(l);
  }
  if (rows.length < 3) throw new Error(`README: the "${name}" marker is not followed by a table`);
  return rows.slice(2).flatMap((r) => [...r.split('|')[1].matchAll(/`([^`]+)`/g)].map((m) => m[1]));
}
