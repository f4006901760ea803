/**
 * Character-level pieces of the flat RAVEn fragment grammar: XML names and spaces, entity
 * decoding, and names looked up in place (without cutting them out of the fragment).
 *
 * @module
 */

export const LT = 0x3c;
export const GT = 0x3e;
export const SLASH = 0x2f;
export const AMP = "&";

export function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

export function isLetter(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

export function isNameChar(c: number): boolean {
  return isLetter(c) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2d || c === 0x2e;
}

export function skipSpace(s: string, i: number): number {
  while (i < s.length && isSpace(s.charCodeAt(i))) i++;
  return i;
}

/** End of the XML name starting at `i` (`i` itself when there is none). */
export function nameEnd(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (!isLetter(c) && c !== 0x5f) return i;
  i++;
  while (i < s.length && isNameChar(s.charCodeAt(i))) i++;
  return i;
}

/**
 * End of the close-tag name at `at` when it equals the name `s[name..name + nameLen)` (ASCII
 * case-insensitively), else -1. Compares while scanning, so a matching name is read only once.
 */
export function closeNameEnd(s: string, at: number, name: number, nameLen: number): number {
  for (let k = 0; k < nameLen; k++) {
    const a = s.charCodeAt(at + k);
    const b = s.charCodeAt(name + k);
    if (a !== b && !(isLetter(a) && (a | 0x20) === (b | 0x20))) return -1;
  }
  return isNameChar(s.charCodeAt(at + nameLen)) ? -1 : at + nameLen;
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

const ENCODER = new TextEncoder();

export function addName<T>(table: NameTable<T>, name: string, value: T): void {
  (table[name.length] ??= []).push({ lower: ENCODER.encode(name.toLowerCase()), value });
}

/** The entry named `s[at..end)`, if any. */
export function lookupName<T>(
  table: NameTable<T>,
  s: string,
  at: number,
  end: number,
): T | undefined {
  const entries = table[end - at];
  if (entries === undefined) return undefined;
  for (const { lower, value } of entries) {
    let k = 0;
    // Table names are letters and digits; `| 0x20` folds letter case and leaves digits alone, and
    // maps no other name character (`_ - .`) onto a letter or digit.
    while (k < lower.length && (s.charCodeAt(at + k) | 0x20) === lower[k]) k++;
    if (k === lower.length) return value;
  }
  return undefined;
}

/** Whether the name at `at` is exactly `name` (not merely starting with it). */
export function isExactName(s: string, at: number, name: Uint8Array): boolean {
  for (let k = 0; k < name.length; k++) if (s.charCodeAt(at + k) !== name[k]) return false;
  return !isNameChar(s.charCodeAt(at + name.length));
}

/** Start of the decimal suffix of the name `s[at..end)` (`end` when there is none). */
export function numberStart(s: string, at: number, end: number): number {
  let k = end;
  while (k > at && s.charCodeAt(k - 1) >= 0x30 && s.charCodeAt(k - 1) <= 0x39) k--;
  return k;
}
