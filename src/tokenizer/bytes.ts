/**
 * GPT-2's reversible byte <-> printable-character map ("bytes_to_unicode"). Every byte 0..255 gets one visible
 * Unicode character (printable Latin-1 bytes map to themselves, the rest to U+0100..U+0143), so byte-level tokens can
 * be stored as readable JSON strings: a leading space shows as "Ġ", a newline as "Ċ". Only used for the vocab strings
 * in the saved JSON and for display; the tokenizer itself works on bytes and ids.
 */
function buildByteChars(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const chars = new Array<string>(256);
  const isPrintable = new Set(printable);
  for (const b of printable) chars[b] = String.fromCharCode(b);
  let n = 0;
  for (let b = 0; b < 256; b++) if (!isPrintable.has(b)) chars[b] = String.fromCharCode(256 + n++);
  return chars;
}

/** BYTE_CHARS[b] is the character standing for byte b. */
export const BYTE_CHARS: readonly string[] = buildByteChars();

const CHAR_TO_BYTE = new Map<string, number>(BYTE_CHARS.map((c, b) => [c, b]));

/** Bytes -> GPT-2 byte-level string ("Ġthe" for " the"). */
export function bytesToVisible(bytes: ArrayLike<number>): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += BYTE_CHARS[bytes[i]];
  return s;
}

/** GPT-2 byte-level string -> bytes; null when a character is not one of the 256 byte characters. */
export function visibleToBytes(s: string): Uint8Array | null {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const b = CHAR_TO_BYTE.get(s[i]);
    if (b === undefined) return null;
    out[i] = b;
  }
  return out;
}
