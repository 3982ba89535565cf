import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { KJV_BOOKS, KJV_CHAPTER_COUNT, KJV_VERSE_COUNT, buildCorpus, parseKjv } from '../scripts/make_corpus.ts';

const dir = new URL('../public/corpus/', import.meta.url);
const kjvText = readFileSync(new URL('kjv.jsonl', dir), 'utf8');
const devilText = readFileSync(new URL('devil.jsonl', dir), 'utf8');
const manifest = JSON.parse(readFileSync(new URL('manifest.json', dir), 'utf8'));
const kjv = kjvText.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
const devil = devilText.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
const hasBible = spawnSync('bible', ['-f', 'John11:35'], { input: '' }).status === 0;

describe('KJV corpus (public/corpus/kjv.jsonl)', () => {
  it('has 31,102 verses with unique ids, the documented fields and non-empty texts', () => {
    expect(kjv).toHaveLength(31_102);
    expect(KJV_VERSE_COUNT).toBe(31_102);
    expect(new Set(kjv.map((v) => v.id)).size).toBe(31_102);
    // One expect per check rather than per verse: 31k expect() calls alone take seconds.
    const badKeys = kjv.filter((v) => Object.keys(v).join() !== 'id,book,chapter,verse,text').map((v) => v.id);
    const badText = kjv.filter((v) => typeof v.text !== 'string' || !v.text || v.text !== v.text.trim() || /\s\s|[\n\t]/.test(v.text)).map((v) => v.id);
    expect(badKeys).toEqual([]);
    expect(badText).toEqual([]);
    expect(kjvText.endsWith('}\n')).toBe(true);
  });

  it('is in canonical order: 66 books, contiguous chapters and verses, ids "<OSIS> <c>:<v>"', () => {
    let b = 0, c = 1, v = 0, chapters = 1;
    const perBook = new Map<string, number>();
    for (const row of kjv) {
      const bi = KJV_BOOKS.findIndex((k) => k.name === row.book);
      const chapter = row.chapter as number, verse = row.verse as number;
      if (bi === b && chapter === c && verse === v + 1) { /* next verse */ }
      else if (bi === b && chapter === c + 1 && verse === 1) chapters++;
      else if (bi === b + 1 && chapter === 1 && verse === 1) chapters++;
      else throw new Error(`${row.id} out of order after ${KJV_BOOKS[b].osis} ${c}:${v}`);
      [b, c, v] = [bi, chapter, verse];
      if (row.id !== `${KJV_BOOKS[bi].osis} ${chapter}:${verse}`) throw new Error(`bad id ${row.id} for ${row.book} ${chapter}:${verse}`);
      perBook.set(KJV_BOOKS[bi].osis, chapter);
    }
    expect(b).toBe(65);
    expect(chapters).toBe(KJV_CHAPTER_COUNT);
    expect(KJV_BOOKS).toHaveLength(66);
    for (const book of KJV_BOOKS) expect(perBook.get(book.osis), book.name).toBe(book.chapters);
  });

  it('has the well-known verses', () => {
    const byId = new Map(kjv.map((r) => [r.id, r]));
    expect(kjv[0]).toEqual({ id: 'Gen 1:1', book: 'Genesis', chapter: 1, verse: 1, text: 'In the beginning God created the heaven and the earth.' });
    expect(byId.get('John 11:35')?.text).toBe('Jesus wept.');
    expect(byId.get('Ps 117:2')?.book).toBe('Psalms');
    expect(byId.get('Song 1:1')?.book).toBe('Song of Solomon');
    expect(byId.get('3John 1:14')?.book).toBe('3 John');
    expect(kjv[kjv.length - 1].id).toBe('Rev 22:21');
    expect((byId.get('Esth 8:9')?.text as string).length).toBe(528); // the longest verse
  });
});

describe("Devil's Dictionary corpus (public/corpus/devil.jsonl)", () => {
  it('has unique "devil:<headword>" ids and non-empty texts that start with the headword', () => {
    expect(devil.length).toBeGreaterThan(950);
    expect(new Set(devil.map((d) => d.id)).size).toBe(devil.length);
    for (const d of devil) {
      expect(Object.keys(d)).toEqual(['id', 'headword', 'text']);
      expect(d.id).toMatch(/^devil:[a-z]/);
      expect(String(d.id).replace(/#\d+$/, '')).toBe(`devil:${d.headword}`);
      expect((d.text as string).length).toBeGreaterThan(0);
      expect((d.text as string).toLowerCase().startsWith(d.headword as string)).toBe(true);
    }
    expect(devil.map((d) => d.id)).toContain('devil:cynic');
    expect(devil.map((d) => d.id)).toContain('devil:reason#2');
  });
});

describe('provenance and regeneration', () => {
  it('the manifest records row counts and hashes of the committed files', () => {
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    expect(manifest.sets.kjv).toMatchObject({ file: 'kjv.jsonl', rows: kjv.length, sha256: sha(kjvText) });
    expect(manifest.sets.devil).toMatchObject({ file: 'devil.jsonl', rows: devil.length, sha256: sha(devilText) });
    expect(manifest.sets.kjv.source.debian['bible-kjv-text']).toMatch(/^\d/);
    expect(readFileSync(new URL('README.md', dir), 'utf8')).toMatch(/npx tsx scripts\/make_corpus\.ts/);
  });

  it('parseKjv fails loudly on a missing verse, a gap or an unknown book', () => {
    const raw = KJV_BOOKS.map((b) => `${b.debian}1:1 text`).join('\n');
    expect(() => parseKjv(raw)).toThrow(/does not follow|chapters/);
    const lines = kjv.map((r) => `${KJV_BOOKS.find((b) => b.name === r.book)!.debian}${r.chapter}:${r.verse} ${r.text}`);
    expect(parseKjv(lines.join('\n'))).toHaveLength(31_102);
    expect(() => parseKjv(lines.slice(0, -1).join('\n'))).toThrow(/ends at Revelation 22:20/);
    expect(() => parseKjv(lines.filter((_, i) => i !== 100).join('\n'))).toThrow(/does not follow/);
    expect(() => parseKjv(lines.map((l, i) => (i === 5 ? l.replace(/^Ge/, 'Gx') : l)).join('\n'))).toThrow(/unknown book abbreviation "Gx"/);
    expect(() => parseKjv(lines.map((l, i) => (i === 5 ? l.replace(/ .*/, ' ') : l)).join('\n'))).toThrow(/empty text/);
  });

  it.runIf(hasBible)('regenerating from the installed Debian packages reproduces the committed files', () => {
    const { files } = buildCorpus();
    expect(files.get('kjv.jsonl')).toBe(kjvText);
    if (files.has('devil.jsonl')) expect(files.get('devil.jsonl')).toBe(devilText);
  });
});
