// The verse evaluation's model-card section (scripts/eval_demo.ts): both score modes reported, the section replaced
// in place between its markers (train_demo.ts keeps it when it rewrites the card), never duplicated.
import { describe, expect, it } from 'vitest';
import { evalSection, existingEvalSection, withEvalSection, type VerseResult } from '../../scripts/eval_demo.ts';

const verse = (ref: string, exact: boolean, dot: number, cosine: number): VerseResult => ({
  ref, prompt: `${ref} opening | with a bar`, expected: ' rest.', completion: exact ? ' rest.' : ' other.', exact,
  rank: { dot, cosine }, top: { dot: [], cosine: [] },
});

describe('eval_demo card section', () => {
  const results = [verse('Gen 1:1', true, 1, 2), verse('Ps 23:1', false, 0, 3), verse('John 3:16', false, 0, 0), verse('Rom 3:23', true, 2, 1)];
  const r = { results, exact: 0.5, found: { dot: 0.5, cosine: 0.75 }, top: 3, seconds: 1 };

  it('reports exact completions and the source rank in each mode, escaping table bars', () => {
    const s = evalSection(r);
    expect(s).toContain('completed exactly: 2 of 4 (50 %)');
    expect(s).toContain('2 of 4 (50 %) in dot mode, 3 of 4 (75 %) in cosine mode');
    expect(s).toContain('| source rank (dot) | source rank (cosine) |');
    expect(s).toContain('| Ps 23:1 | Ps 23:1 opening \\| with a bar |  other. | no | > 3 | 3 |');
    expect(s).toContain('| Gen 1:1 | Gen 1:1 opening \\| with a bar |  rest. | yes | 1 | 2 |');
  });

  it('replaces the section in place, appends it once, and reads it back', () => {
    const s1 = evalSection(r);
    const card = '# Card\n\nintro\n';
    const withIt = withEvalSection(card, s1);
    expect(withIt.startsWith('# Card\n\nintro\n\n')).toBe(true);
    expect(existingEvalSection(withIt)).toBe(s1);
    const s2 = evalSection({ ...r, exact: 1, results: results.map((x) => ({ ...x, exact: true })) });
    const replaced = withEvalSection(withIt + '\n## After\n', s2);
    expect(replaced.split('## Verse evaluation').length).toBe(2);
    expect(replaced).toContain('completed exactly: 4 of 4 (100 %)');
    expect(replaced).toContain('\n## After\n');
    expect(existingEvalSection('# no section')).toBe('');
  });
});
