/**
 * Builds the demo's public-domain training corpus from Debian packages.
 *
 *   npx tsx scripts/make_corpus.ts            # writes public/corpus/{kjv,devil}.jsonl + manifest.json
 *   npx tsx scripts/make_corpus.ts --check    # rebuilds in memory, fails if the committed files differ
 *
 * Sources (see public/corpus/README.md for licences and provenance):
 *  - King James Version: Debian `bible-kjv-text` (data) + `bible-kjv` (the `bible` reader), read with
 *    `bible -f Gen1:1-Rev22:21`, which prints one verse per line as "<abbrev><chapter>:<verse> <text>".
 *  - The Devil's Dictionary (Ambrose Bierce): Debian `dict-devil`, a dictd database
 *    (/usr/share/dictd/devil.index + devil.dict.dz). Optional: skipped with a warning when not installed,
 *    unless --require-devil is given.
 *
 * Deterministic: the output depends only on the package contents (no timestamps, no locale, no randomness).
 * Fails loudly (non-zero exit) on anything unexpected: missing tools, a verse count other than 31,102,
 * non-contiguous chapters or verses, unknown book abbreviations, duplicate ids, empty texts.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';

/** The 66 books of the Protestant canon in canonical order: OSIS abbreviation (used in ids), full KJV name,
 * the abbreviation the Debian `bible` program prints, and the number of chapters. */
export const KJV_BOOKS: readonly { osis: string; name: string; debian: string; chapters: number }[] = [
  { osis: 'Gen', name: 'Genesis', debian: 'Ge', chapters: 50 },
  { osis: 'Exod', name: 'Exodus', debian: 'Exo', chapters: 40 },
  { osis: 'Lev', name: 'Leviticus', debian: 'Lev', chapters: 27 },
  { osis: 'Num', name: 'Numbers', debian: 'Num', chapters: 36 },
  { osis: 'Deut', name: 'Deuteronomy', debian: 'Deu', chapters: 34 },
  { osis: 'Josh', name: 'Joshua', debian: 'Josh', chapters: 24 },
  { osis: 'Judg', name: 'Judges', debian: 'Jdgs', chapters: 21 },
  { osis: 'Ruth', name: 'Ruth', debian: 'Ruth', chapters: 4 },
  { osis: '1Sam', name: '1 Samuel', debian: '1Sm', chapters: 31 },
  { osis: '2Sam', name: '2 Samuel', debian: '2Sm', chapters: 24 },
  { osis: '1Kgs', name: '1 Kings', debian: '1Ki', chapters: 22 },
  { osis: '2Kgs', name: '2 Kings', debian: '2Ki', chapters: 25 },
  { osis: '1Chr', name: '1 Chronicles', debian: '1Chr', chapters: 29 },
  { osis: '2Chr', name: '2 Chronicles', debian: '2Chr', chapters: 36 },
  { osis: 'Ezra', name: 'Ezra', debian: 'Ezra', chapters: 10 },
  { osis: 'Neh', name: 'Nehemiah', debian: 'Neh', chapters: 13 },
  { osis: 'Esth', name: 'Esther', debian: 'Est', chapters: 10 },
  { osis: 'Job', name: 'Job', debian: 'Job', chapters: 42 },
  { osis: 'Ps', name: 'Psalms', debian: 'Psa', chapters: 150 },
  { osis: 'Prov', name: 'Proverbs', debian: 'Prv', chapters: 31 },
  { osis: 'Eccl', name: 'Ecclesiastes', debian: 'Eccl', chapters: 12 },
  { osis: 'Song', name: 'Song of Solomon', debian: 'SSol', chapters: 8 },
  { osis: 'Isa', name: 'Isaiah', debian: 'Isa', chapters: 66 },
  { osis: 'Jer', name: 'Jeremiah', debian: 'Jer', chapters: 52 },
  { osis: 'Lam', name: 'Lamentations', debian: 'Lam', chapters: 5 },
  { osis: 'Ezek', name: 'Ezekiel', debian: 'Eze', chapters: 48 },
  { osis: 'Dan', name: 'Daniel', debian: 'Dan', chapters: 12 },
  { osis: 'Hos', name: 'Hosea', debian: 'Hos', chapters: 14 },
  { osis: 'Joel', name: 'Joel', debian: 'Joel', chapters: 3 },
  { osis: 'Amos', name: 'Amos', debian: 'Amos', chapters: 9 },
  { osis: 'Obad', name: 'Obadiah', debian: 'Obad', chapters: 1 },
  { osis: 'Jonah', name: 'Jonah', debian: 'Jonah', chapters: 4 },
  { osis: 'Mic', name: 'Micah', debian: 'Mic', chapters: 7 },
  { osis: 'Nah', name: 'Nahum', debian: 'Nahum', chapters: 3 },
  { osis: 'Hab', name: 'Habakkuk', debian: 'Hab', chapters: 3 },
  { osis: 'Zeph', name: 'Zephaniah', debian: 'Zep', chapters: 3 },
  { osis: 'Hag', name: 'Haggai', debian: 'Hag', chapters: 2 },
  { osis: 'Zech', name: 'Zechariah', debian: 'Zec', chapters: 14 },
  { osis: 'Mal', name: 'Malachi', debian: 'Mal', chapters: 4 },
  { osis: 'Matt', name: 'Matthew', debian: 'Mat', chapters: 28 },
  { osis: 'Mark', name: 'Mark', debian: 'Mark', chapters: 16 },
  { osis: 'Luke', name: 'Luke', debian: 'Luke', chapters: 24 },
  { osis: 'John', name: 'John', debian: 'John', chapters: 21 },
  { osis: 'Acts', name: 'Acts', debian: 'Acts', chapters: 28 },
  { osis: 'Rom', name: 'Romans', debian: 'Rom', chapters: 16 },
  { osis: '1Cor', name: '1 Corinthians', debian: '1Cor', chapters: 16 },
  { osis: '2Cor', name: '2 Corinthians', debian: '2Cor', chapters: 13 },
  { osis: 'Gal', name: 'Galatians', debian: 'Gal', chapters: 6 },
  { osis: 'Eph', name: 'Ephesians', debian: 'Eph', chapters: 6 },
  { osis: 'Phil', name: 'Philippians', debian: 'Phi', chapters: 4 },
  { osis: 'Col', name: 'Colossians', debian: 'Col', chapters: 4 },
  { osis: '1Thess', name: '1 Thessalonians', debian: '1Th', chapters: 5 },
  { osis: '2Thess', name: '2 Thessalonians', debian: '2Th', chapters: 3 },
  { osis: '1Tim', name: '1 Timothy', debian: '1Tim', chapters: 6 },
  { osis: '2Tim', name: '2 Timothy', debian: '2Tim', chapters: 4 },
  { osis: 'Titus', name: 'Titus', debian: 'Titus', chapters: 3 },
  { osis: 'Phlm', name: 'Philemon', debian: 'Phmn', chapters: 1 },
  { osis: 'Heb', name: 'Hebrews', debian: 'Heb', chapters: 13 },
  { osis: 'Jas', name: 'James', debian: 'Jas', chapters: 5 },
  { osis: '1Pet', name: '1 Peter', debian: '1Pet', chapters: 5 },
  { osis: '2Pet', name: '2 Peter', debian: '2Pet', chapters: 3 },
  { osis: '1John', name: '1 John', debian: '1Jn', chapters: 5 },
  { osis: '2John', name: '2 John', debian: '2Jn', chapters: 1 },
  { osis: '3John', name: '3 John', debian: '3Jn', chapters: 1 },
  { osis: 'Jude', name: 'Jude', debian: 'Jude', chapters: 1 },
  { osis: 'Rev', name: 'Revelation', debian: 'Rev', chapters: 22 },
];

export const KJV_VERSE_COUNT = 31_102;
export const KJV_CHAPTER_COUNT = 1_189;

export interface KjvVerse { id: string; book: string; chapter: number; verse: number; text: string }
export interface DevilEntry { id: string; headword: string; text: string }

class CorpusError extends Error {
  override name = 'CorpusError';
}

function fail(msg: string): never {
  throw new CorpusError(msg);
}

function run(cmd: string, args: string[], hint: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, input: '', env: { ...process.env, LC_ALL: 'C' } });
  if (r.error) fail(`cannot run ${cmd} (${r.error.message}); ${hint}`);
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} exited with ${r.status}: ${r.stderr.trim()}; ${hint}`);
  return r.stdout;
}

function debVersion(pkg: string): string | null {
  const r = spawnSync('dpkg-query', ['-W', '-f', '${Version}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout ? r.stdout.trim() : null;
}

/** Collapses whitespace runs to one space and trims (the Debian text has 2 double spaces and 1 trailing space). */
function normaliseVerse(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/** Parses the output of `bible -f Gen1:1-Rev22:21` and checks it against the KJV's known structure. */
export function parseKjv(raw: string): KjvVerse[] {
  const byDebian = new Map(KJV_BOOKS.map((b, i) => [b.debian, i]));
  const lines = raw.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const out: KjvVerse[] = [];
  let bookIdx = 0, chapter = 1, verse = 0, chapters = 0;
  const re = /^([1-3]?[A-Za-z]+)(\d+):(\d+) (.*)$/;
  for (let n = 0; n < lines.length; n++) {
    const m = re.exec(lines[n]);
    if (!m) fail(`bible output line ${n + 1} is not "<book><chapter>:<verse> <text>": ${JSON.stringify(lines[n].slice(0, 80))}`);
    const b = byDebian.get(m[1]);
    if (b === undefined) fail(`bible output line ${n + 1}: unknown book abbreviation ${JSON.stringify(m[1])}`);
    const c = Number(m[2]), v = Number(m[3]);
    if (out.length === 0) {
      if (b !== 0 || c !== 1 || v !== 1) fail('bible output does not start at Genesis 1:1');
      chapters = 1;
    } else if (b === bookIdx && c === chapter && v === verse + 1) {
      // next verse
    } else if (b === bookIdx && c === chapter + 1 && v === 1) {
      chapters++;
    } else if (b === bookIdx + 1 && c === 1 && v === 1) {
      if (chapter !== KJV_BOOKS[bookIdx].chapters) fail(`${KJV_BOOKS[bookIdx].name} has ${chapter} chapters, expected ${KJV_BOOKS[bookIdx].chapters}`);
      chapters++;
    } else {
      fail(`bible output line ${n + 1}: ${m[1]}${c}:${v} does not follow ${KJV_BOOKS[bookIdx].debian}${chapter}:${verse}`);
    }
    bookIdx = b; chapter = c; verse = v;
    const book = KJV_BOOKS[b];
    const text = normaliseVerse(m[4]);
    if (!text) fail(`${book.osis} ${c}:${v} has empty text`);
    out.push({ id: `${book.osis} ${c}:${v}`, book: book.name, chapter: c, verse: v, text });
  }
  if (out.length === 0) fail('bible printed nothing');
  if (bookIdx !== KJV_BOOKS.length - 1 || chapter !== 22 || verse !== 21) fail(`bible output ends at ${KJV_BOOKS[bookIdx].name} ${chapter}:${verse}, expected Revelation 22:21`);
  if (chapters !== KJV_CHAPTER_COUNT) fail(`found ${chapters} chapters, expected ${KJV_CHAPTER_COUNT}`);
  if (out.length !== KJV_VERSE_COUNT) fail(`found ${out.length} verses, expected ${KJV_VERSE_COUNT}`);
  return out;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
function dictB64(s: string): number {
  let v = 0;
  for (const ch of s) {
    const d = B64.indexOf(ch);
    if (d < 0) fail(`devil.index: bad base64 number ${JSON.stringify(s)}`);
    v = v * 64 + d;
  }
  return v;
}

/** Headword as printed at the start of an entry: the run of upper-case words (with ' . - and "(or X)") joined by
 * single spaces, before the part of speech, e.g. "TZETZE (or TSETSE) FLY, n." -> "TZETZE (or TSETSE) FLY",
 * "R.I.P.  A careless abbreviation" -> "R.I.P". */
function devilHeadword(first: string): string {
  const m = /^[A-Z][A-Z'.-]*(?: (?:\(or [A-Z ]+\)|[A-Z][A-Z'.-]*(?![a-z])))*/.exec(first);
  if (!m) fail(`devil.dict: entry does not start with an upper-case headword: ${JSON.stringify(first.slice(0, 60))}`);
  return m[0].replace(/\.$/, '');
}

/** Keeps the entry's layout (paragraphs, indented verse) but trims line ends, shortens the deep right-alignment
 * of attribution lines to 4 spaces and collapses blank-line runs. */
function normaliseDevil(s: string): string {
  return s
    .split('\n')
    .map((l) => l.replace(/\s+$/, '').replace(/^ {16,}/, '    '))
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** Parses the dictd database of dict-devil. Entries are taken in file order (the index's byte offsets, deduplicated);
 * headwords come from the entry text itself because the index has errors (e.g. LAUREATE is indexed as "laurel").
 * Exact duplicate entries in the source (PRECEDENT, PRECIPITATE) are kept once; distinct entries with the same
 * headword (REASON v.i. / n.) get "#2", "#3" suffixes in file order. */
export function parseDevil(index: string, dict: Buffer): DevilEntry[] {
  const spans = new Map<number, number>();
  for (const [n, line] of index.split('\n').entries()) {
    if (!line) continue;
    const f = line.split('\t');
    if (f.length !== 3) fail(`devil.index line ${n + 1}: expected 3 tab-separated fields`);
    if (f[0].startsWith('00database')) continue; // dictd metadata (info, url, ...), not entries
    const off = dictB64(f[1]), len = dictB64(f[2]);
    if (off + len > dict.length) fail(`devil.index line ${n + 1}: entry past end of devil.dict`);
    spans.set(off, len);
  }
  const seenText = new Set<string>();
  const seenHead = new Map<string, number>();
  const out: DevilEntry[] = [];
  for (const off of [...spans.keys()].sort((a, b) => a - b)) {
    const text = normaliseDevil(dict.subarray(off, off + spans.get(off)!).toString('utf8'));
    if (!text) fail(`devil.dict: empty entry at offset ${off}`);
    if (seenText.has(text)) continue;
    seenText.add(text);
    const headword = devilHeadword(text.split('\n')[0]).toLowerCase();
    const k = (seenHead.get(headword) ?? 0) + 1;
    seenHead.set(headword, k);
    out.push({ id: `devil:${headword}${k > 1 ? `#${k}` : ''}`, headword, text });
  }
  if (out.length < 900) fail(`devil: only ${out.length} entries parsed, expected about 990`);
  return out;
}

function jsonl(rows: object[]): string {
  return rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export interface CorpusBuild { files: Map<string, string>; summary: string[] }

export function buildCorpus(opts: { requireDevil?: boolean } = {}): CorpusBuild {
  const files = new Map<string, string>();
  const summary: string[] = [];
  const hint = 'install the Debian packages: apt-get install bible-kjv bible-kjv-text';
  const raw = run('bible', ['-f', 'Gen1:1-Rev22:21'], hint);
  const kjv = parseKjv(raw);
  const kjvText = jsonl(kjv);
  files.set('kjv.jsonl', kjvText);
  const kjvChars = kjv.reduce((s, v) => s + v.text.length, 0);
  summary.push(`kjv.jsonl: ${kjv.length} verses, ${KJV_BOOKS.length} books, ${KJV_CHAPTER_COUNT} chapters, ${kjvChars} text chars, ${Buffer.byteLength(kjvText)} bytes`);

  const manifest: Record<string, unknown> = {
    generator: 'scripts/make_corpus.ts',
    command: 'npx tsx scripts/make_corpus.ts',
    sets: {
      kjv: {
        file: 'kjv.jsonl', rows: kjv.length, sha256: sha256(kjvText),
        source: { debian: { 'bible-kjv-text': debVersion('bible-kjv-text'), 'bible-kjv': debVersion('bible-kjv') }, extraction: 'bible -f Gen1:1-Rev22:21' },
        fields: ['id', 'book', 'chapter', 'verse', 'text'],
      },
    },
  };

  const idx = '/usr/share/dictd/devil.index', dz = '/usr/share/dictd/devil.dict.dz';
  if (existsSync(idx) && existsSync(dz)) {
    const devil = parseDevil(readFileSync(idx, 'utf8'), gunzipSync(readFileSync(dz)));
    const devilText = jsonl(devil);
    files.set('devil.jsonl', devilText);
    (manifest.sets as Record<string, unknown>).devil = {
      file: 'devil.jsonl', rows: devil.length, sha256: sha256(devilText),
      source: { debian: { 'dict-devil': debVersion('dict-devil') }, extraction: `${idx} + ${dz}` },
      fields: ['id', 'headword', 'text'],
    };
    summary.push(`devil.jsonl: ${devil.length} entries, ${Buffer.byteLength(devilText)} bytes`);
  } else if (opts.requireDevil) {
    fail('dict-devil is not installed (apt-get install dict-devil)');
  } else {
    console.warn('warning: dict-devil not installed, skipping devil.jsonl (apt-get install dict-devil)');
  }
  files.set('manifest.json', JSON.stringify(manifest, null, 2) + '\n');
  return { files, summary };
}

function main(argv: string[]): number {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const outDir = join(root, 'public', 'corpus');
  const check = argv.includes('--check');
  const { files, summary } = buildCorpus({ requireDevil: argv.includes('--require-devil') });
  if (check) {
    let ok = true;
    for (const [name, text] of files) {
      const p = join(outDir, name);
      if (!existsSync(p) || readFileSync(p, 'utf8') !== text) {
        console.error(`${p} differs from a fresh build`);
        ok = false;
      }
    }
    if (!ok) return 1;
    console.log('public/corpus is up to date');
  } else {
    mkdirSync(outDir, { recursive: true });
    for (const [name, text] of files) writeFileSync(join(outDir, name), text);
  }
  for (const s of summary) console.log(s);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (e) {
    console.error(`make_corpus: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  }
}
