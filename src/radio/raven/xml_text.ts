/**
 * Character-level pieces of the flat RAVEn fragment grammar: XML names and spaces, entity
 * decoding, and names looked up in place (without cutting them out of the fragment).
 *
 * The grammar is read from character codes in a byte buffer ({@link CodeText}), not from the
 * string: indexing a `Uint8Array` is about twice as cheap as `charCodeAt`, and a fragment framed
 * from the serial port is already such a buffer, so its string is made only if a value needs it.
 *
 * @module
 */

export const LT = 0x3c;
export const GT = 0x3e;
export const SLASH = 0x2f;
export const AMP = "&";
export const AMP_CODE = 0x26;

export function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

export function isLetter(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

export function isNameChar(c: number): boolean {
  return isLetter(c) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2d || c === 0x2e;
}

/**
 * A fragment's text as character codes, one per character (non-ASCII as {@link NON_ASCII}, which is
 * no name, space or markup character and no digit), `codes[start..end)`, with the string itself
 * made only when asked for. Offsets into the text are offsets into `codes`.
 */
export class CodeText {
  #text: string | null;
  readonly #whole: string | null;

  /**
   * `whole`, when given, is a string whose character `i` is code `i` (a framed read with
   * non-ASCII characters); otherwise the codes are the text (plain ASCII).
   */
  constructor(
    readonly codes: Uint8Array,
    readonly start: number,
    readonly end: number,
    whole: string | null = null,
  ) {
    this.#whole = whole;
    this.#text = null;
  }

  /** The codes of a string, which is kept as the text. */
  static of(text: string): CodeText {
    const codes = new Uint8Array(text.length);
    // ASCII text (the usual) is its own UTF-8, which the encoder writes far faster than a loop.
    const { read, written } = ENCODER.encodeInto(text, codes);
    if (read !== text.length || written !== text.length) {
      for (let k = 0; k < text.length; k++) {
        const c = text.charCodeAt(k);
        codes[k] = c < NON_ASCII ? c : NON_ASCII;
      }
    }
    const code = new CodeText(codes, 0, text.length);
    code.#text = text;
    return code;
  }

  /** The whole text. */
  get text(): string {
    this.#text ??= this.#whole === null
      ? ASCII.decode(this.codes.subarray(this.start, this.end))
      : this.#whole.slice(this.start, this.end);
    return this.#text;
  }

  /** The text of `[from..to)` (offsets into `codes`). */
  slice(from: number, to: number): string {
    if (this.#text !== null) return this.#text.slice(from - this.start, to - this.start);
    return this.#whole === null
      ? ASCII.decode(this.codes.subarray(from, to))
      : this.#whole.slice(from, to);
  }
}

/** Code standing for any non-ASCII character. */
export const NON_ASCII = 0x80;

/** Decodes codes that are all ASCII (so UTF-8, its fastest decoder, reads them alike). */
const ASCII = new TextDecoder();
const ENCODER = new TextEncoder();

export function skipSpace(b: Uint8Array, i: number, end: number): number {
  while (i < end && isSpace(b[i])) i++;
  return i;
}

/** End of the XML name starting at `i` (`i` itself when there is none). */
export function nameEnd(b: Uint8Array, i: number, end: number): number {
  if (i >= end) return i;
  const c = b[i];
  if (!isLetter(c) && c !== 0x5f) return i;
  i++;
  while (i < end && isNameChar(b[i])) i++;
  return i;
}

/**
 * End of the close-tag name at `at` when it equals the name `b[name..name + nameLen)` (ASCII
 * case-insensitively), else -1. Compares while scanning, so a matching name is read only once.
 */
export function closeNameEnd(
  b: Uint8Array,
  at: number,
  name: number,
  nameLen: number,
  end: number,
): number {
  if (at + nameLen > end) return -1;
  for (let k = 0; k < nameLen; k++) {
    const x = b[at + k];
    const y = b[name + k];
    if (x !== y && !(isLetter(x) && (x | 0x20) === (y | 0x20))) return -1;
  }
  return at + nameLen < end && isNameChar(b[at + nameLen]) ? -1 : at + nameLen;
}

const ENTITY = /&(#[xX][0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z]{2,6});/g;
const NAMED_ENTITIES: ReadonlyMap<string, string> = new Map([
  ["amp", "&"],
  ["lt", "<"],
  ["gt", ">"],
  ["quot", '"'],
  ["apos", "'"],
  ["nbsp", "\u00a0"],
]);

/** Decodes XML/HTML entities; an unknown one or a bare `&` stays literal with a warning. */
export function unescapeText(text: string, name: string, warnings: string[]): string {
  let bad = false;
  const out = text.replace(ENTITY, (whole, ref: string) => {
    if (ref.charCodeAt(0) !== 0x23) {
      const named = NAMED_ENTITIES.get(ref);
      if (named !== undefined) return named;
      bad = true;
      return whole;
    }
    const code = ref.charCodeAt(1) === 0x78 || ref.charCodeAt(1) === 0x58
      ? parseInt(ref.slice(2), 16)
      : parseInt(ref.slice(1), 10);
    if (code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
      bad = true;
      return whole;
    }
    return String.fromCodePoint(code);
  });
  // A bare `&` (one that does not start an entity reference) is not well-formed but harmless.
  if (bad || text.replace(ENTITY, "").includes(AMP)) {
    warnings.push(`${name}: undecodable "&" kept literally`);
  }
  return out;
}

/** `text` without surrounding XML whitespace; cheap when there is none (the usual case). */
export function trimSpace(text: string): string {
  return text.length > 0 &&
      (isSpace(text.charCodeAt(0)) || isSpace(text.charCodeAt(text.length - 1)))
    ? text.trim()
    : text;
}

/**
 * Names looked up in place, without cutting the name out of the fragment: entries by name length,
 * each with its lower-case character codes. A child name is compared with the one or two entries
 * of its length, ASCII case-insensitively.
 */
export type NameTable<T> = { lower: Uint8Array; value: T }[][];

export function addName<T>(table: NameTable<T>, name: string, value: T): void {
  (table[name.length] ??= []).push({ lower: ENCODER.encode(name.toLowerCase()), value });
}

/** The entry named `b[at..end)`, if any. */
export function lookupName<T>(
  table: NameTable<T>,
  b: Uint8Array,
  at: number,
  end: number,
): T | undefined {
  const entries = table[end - at];
  if (entries === undefined) return undefined;
  for (const { lower, value } of entries) {
    let k = 0;
    // Table names are letters and digits; `| 0x20` folds letter case and leaves digits alone, and
    // maps no other name character (`_ - .`) onto a letter or digit.
    while (k < lower.length && (b[at + k] | 0x20) === lower[k]) k++;
    if (k === lower.length) return value;
  }
  return undefined;
}

/** Whether the name at `at` (before `end`) is exactly `name` (not merely starting with it). */
export function isExactName(b: Uint8Array, at: number, name: Uint8Array, end: number): boolean {
  const after = at + name.length;
  if (after > end) return false;
  for (let k = 0; k < name.length; k++) if (b[at + k] !== name[k]) return false;
  return after === end || !isNameChar(b[after]);
}

/** Start of the decimal suffix of the name `b[at..end)` (`end` when there is none). */
export function numberStart(b: Uint8Array, at: number, end: number): number {
  let k = end;
  while (k > at && b[k - 1] >= 0x30 && b[k - 1] <= 0x39) k--;
  return k;
}
