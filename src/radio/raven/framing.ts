/**
 * Framing for the RAVEn/EMU-2 serial stream: raw bytes in, complete XML fragment strings out.
 *
 * Bytes are decoded as Windows-1252 (every byte maps to a character, so a raw `0xFF` never breaks
 * decoding) and C0 controls other than TAB/CR/LF are stripped. A fragment starts at a *root-looking*
 * start tag — `<Name>` (letters/digits, no attributes) followed, after optional whitespace, by
 * another start tag — and ends at the matching `</Name>` (case-insensitive). Fragments are flat, so
 * a root-looking tag found inside an open fragment means that fragment lost its close: it is
 * dropped and the new tag starts the next fragment. Anything else outside a fragment is garbage.
 * A fragment longer than `maxBufferBytes` is dropped, which bounds the buffer however the input is
 * chunked. Fragments whose children are garbled but whose root closes are passed through; the
 * decoder reports them.
 *
 * The splitter works on character codes in a byte buffer, not on a string: indexing a
 * `Uint8Array` is several times cheaper than `charCodeAt`. `pushEach` hands each fragment over as
 * those codes (the decoder reads them as they are, and makes the fragment's string only if it
 * needs it); `push` makes every fragment's string. Input that is plain ASCII (the normal case) is
 * its own code buffer; anything else is decoded to text first and mapped to codes, one per
 * character.
 *
 * @module
 */

import { CodeText, NON_ASCII } from "./xml_text.ts";

const DEFAULT_MAX_BUFFER_BYTES = 8192;

// Deno's TextDecoder implements WHATWG windows-1252: 0x80 → U+20AC, 0x81 → U+0081, 0x9F → U+0178,
// every byte maps to a character. Measured 4–5× faster than a JS table for reads of 256 B and up.
const WINDOWS_1252 = new TextDecoder("windows-1252");
// On plain ASCII, UTF-8 and Windows-1252 decode alike, and the UTF-8 decoder is ~5× faster. Its
// strings are also flat, which makes the decoder's `charCodeAt` several times cheaper than on
// slices of a larger string.
const UTF8 = new TextDecoder();
// Matching control characters is the point: NULs and other C0 noise occur on real radios.
// deno-lint-ignore no-control-regex
const HAS_STRIPPABLE_CONTROL = /[\x00-\x08\x0B\x0C\x0E-\x1F]/;
// deno-lint-ignore no-control-regex
const STRIPPABLE_CONTROLS = /[\x00-\x08\x0B\x0C\x0E-\x1F]+/g;

/** 1 for bytes that decode to themselves and are kept: printable ASCII, TAB, LF, CR. */
const PLAIN = new Uint8Array(256);
for (let c = 0x20; c <= 0x7f; c++) PLAIN[c] = 1;
for (const c of [0x09, 0x0a, 0x0d]) PLAIN[c] = 1;

/** Word view for inputs too short to hold an aligned word. */
const NO_WORDS = new Uint32Array(0);

/** Code buffers above this size (a huge single push) are not kept for reuse. */
const MAX_KEPT_CAPACITY_BYTES = 64 * 1024;

const LT = 0x3c; // <
const GT = 0x3e; // >
const SLASH = 0x2f; // /

/** Options for {@link FragmentSplitter}. */
export interface FragmentSplitterOptions {
  /** Longest fragment (and so the most text ever held between pushes). Default 8192. */
  maxBufferBytes?: number;
}

/**
 * Recognises a whole fragment faster than the splitter's tag walk. Given the codes, the start of a
 * root-looking tag the splitter found and the end of the codes, it returns the end (just after the
 * `>`) of the first close tag named like the root (ASCII case-insensitively), when it is sure that
 * no root-looking start tag and no stray `<` come before it — so the walk would end the fragment
 * there too — or -1, and the splitter walks the tags itself.
 */
export type FragmentMatcher = (codes: Uint8Array, start: number, end: number) => number;

/** Receives a fragment; `matched` says whether a {@link FragmentMatcher} vouched for it. */
export type FragmentSink = (fragment: CodeText, matched: boolean) => void;

/** Running counters of a {@link FragmentSplitter}. */
export interface FragmentSplitterStats {
  /** Non-whitespace characters discarded: garbage, unclosed or oversized fragments. */
  droppedBytes: number;
  /** Fragments (or candidate tags) dropped for exceeding `maxBufferBytes`. */
  overflows: number;
  /** Fragments emitted. */
  fragments: number;
}

/**
 * Decodes Windows-1252 (a raw `0xFF` in a DateCode must not break anything) and strips C0 controls
 * other than TAB/CR/LF, which real radios emit as noise. Single-byte and stateless, so chunks
 * decode independently.
 */
export function decodeWindows1252(bytes: Uint8Array): string {
  if (isPlainAscii(bytes)) return UTF8.decode(bytes);
  const text = WINDOWS_1252.decode(bytes);
  return HAS_STRIPPABLE_CONTROL.test(text) ? text.replace(STRIPPABLE_CONTROLS, "") : text;
}

/**
 * Whether every byte is printable ASCII, TAB, LF or CR, so the bytes are their own decoded text.
 * Tests four bytes at a time (a byte >= 0x80 or < 0x20 sets its top bit in the mask), measured
 * 1.4× faster than a table lookup per byte; only words with a hit, mostly the CR LF line ends,
 * are looked at bytewise.
 */
function isPlainAscii(bytes: Uint8Array): boolean {
  const len = bytes.length;
  const head = Math.min(len, (4 - (bytes.byteOffset & 3)) & 3);
  for (let i = 0; i < head; i++) if (PLAIN[bytes[i]] === 0) return false;
  const words = (len - head) >>> 2;
  const w32 = words === 0
    ? NO_WORDS
    : new Uint32Array(bytes.buffer, bytes.byteOffset + head, words);
  for (let k = 0; k < words; k++) {
    const w = w32[k];
    if (((w | ((w - 0x20202020) & ~w)) & 0x80808080) !== 0) {
      const i = head + 4 * k;
      if (
        PLAIN[bytes[i]] === 0 || PLAIN[bytes[i + 1]] === 0 || PLAIN[bytes[i + 2]] === 0 ||
        PLAIN[bytes[i + 3]] === 0
      ) return false;
    }
  }
  for (let i = head + 4 * words; i < len; i++) if (PLAIN[bytes[i]] === 0) return false;
  return true;
}

function isLetter(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

function isAlnum(c: number): boolean {
  return isLetter(c) || (c >= 0x30 && c <= 0x39);
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * Index of the first `<` in `b[from..len)` (or `>` too, with `orGt`), -1 if none. `w` views the
 * same memory as words, tested four bytes at a time for a zero byte in `word ^ 0x3c3c3c3c` (a `<`;
 * setting bit 1 first folds `>` onto `<`): text and tags are skipped about three times faster
 * than byte by byte.
 */
function indexOfAngle(
  b: Uint8Array,
  w: Uint32Array,
  from: number,
  len: number,
  orGt: boolean,
): number {
  const fold = orGt ? 0x02020202 : 0;
  const target = orGt ? 0x3e3e3e3e : 0x3c3c3c3c;
  const byteFold = fold & 0xff;
  const byteTarget = target & 0xff;
  let i = from;
  for (; i < len && (i & 3) !== 0; i++) if ((b[i] | byteFold) === byteTarget) return i;
  if (i >= len) return -1;
  const words = len >>> 2;
  let k = i >>> 2;
  for (; k < words; k++) {
    const x = (w[k] | fold) ^ target;
    if (((x - 0x01010101) & ~x & 0x80808080) !== 0) break;
  }
  for (i = 4 * k; i < len; i++) if ((b[i] | byteFold) === byteTarget) return i;
  return -1;
}

/** Index of the first `<` in `b[from..len)`, -1 if none; see {@link indexOfAngle}. */
function indexOfLt(b: Uint8Array, w: Uint32Array, from: number, len: number): number {
  return indexOfAngle(b, w, from, len, false);
}

/** Case-insensitive comparison of two tag names stored in `b`; a heuristic, the decoder is exact. */
function sameName(b: Uint8Array, a: number, aLen: number, c: number, cLen: number): boolean {
  if (aLen !== cLen) return false;
  for (let k = 0; k < aLen; k++) if ((b[a + k] | 0x20) !== (b[c + k] | 0x20)) return false;
  return true;
}

/** Answer of {@link FragmentSplitter} `#rootLooking`. */
type Look = typeof NO | typeof YES | typeof NEED_MORE;
const NO = 0;
const YES = 1;
const NEED_MORE = 2;

/**
 * Incremental splitter: feed it whatever the serial port returns, get the fragments completed so
 * far. Holds at most `maxBufferBytes` characters between pushes.
 */
export class FragmentSplitter {
  readonly stats: FragmentSplitterStats = { droppedBytes: 0, overflows: 0, fragments: 0 };
  readonly #maxBytes: number;
  /**
   * Character codes of the unconsumed text in `#codes[0..#held)`, one per character, non-ASCII
   * as {@link NON_ASCII}; the rest of `#codes` is room for the next push. When `#inFragment`, the
   * text starts with the fragment's root start tag.
   */
  #codes = new Uint8Array(0);
  /** `#codes` as 32-bit words, for {@link indexOfLt}. */
  #words = new Uint32Array(0);
  #held = 0;
  /** The unconsumed text itself when it has non-ASCII characters; null when `#codes` spell it. */
  #text: string | null = null;
  #inFragment = false;
  /** Root name length; the name starts at offset 1 of the fragment. */
  #rootLen = 0;
  /** Where tokenizing resumes, relative to the start of the held text. */
  #cursor = 0;

  // State of the current push, read by `#scan` and its helpers: the codes (and words) being
  // scanned, how many are valid, and their text when `#codes` alone cannot spell it.
  #b = this.#codes;
  #w = this.#words;
  #len = 0;
  #s: string | null = null;

  constructor(options: FragmentSplitterOptions = {}) {
    const max = options.maxBufferBytes ?? DEFAULT_MAX_BUFFER_BYTES;
    if (!Number.isInteger(max) || max < 16) {
      throw new RangeError(`maxBufferBytes must be an integer >= 16, got ${max}`);
    }
    this.#maxBytes = max;
  }

  /** Characters currently held back waiting for more input (always <= maxBufferBytes). */
  get bufferedBytes(): number {
    return this.#held;
  }

  /** Adds bytes; returns the fragments they completed, in stream order. */
  push(chunk: Uint8Array): string[] {
    const out: string[] = [];
    this.pushEach(chunk, (fragment) => out.push(fragment.text));
    return out;
  }

  /**
   * Adds bytes; calls `onFragment` with each fragment they completed, in stream order, as codes
   * that are valid only during the call (the buffer is reused). `onFragment` must not throw or
   * push to this splitter. `match`, if given, is tried on each fragment as it starts.
   */
  pushEach(chunk: Uint8Array, onFragment: FragmentSink, match?: FragmentMatcher): void {
    const held = this.#held;
    if (isPlainAscii(chunk)) {
      if (chunk.length === 0) return;
      this.#reserve(held + chunk.length).set(chunk, held);
      this.#s = this.#text === null ? null : this.#text + UTF8.decode(chunk);
      this.#len = held + chunk.length;
    } else {
      const text = decodeWindows1252(chunk);
      if (text.length === 0) return;
      const codes = this.#reserve(held + text.length);
      for (let k = 0; k < text.length; k++) {
        const c = text.charCodeAt(k);
        codes[held + k] = c < NON_ASCII ? c : NON_ASCII;
      }
      this.#s = (this.#text ?? UTF8.decode(codes.subarray(0, held))) + text;
      this.#len = held + text.length;
    }
    this.#b = this.#codes;
    this.#w = this.#words;
    this.#scan(onFragment, match);
  }

  /**
   * Ends the stream: returns the unfinished fragment text still buffered (null when there is
   * none) and resets the splitter, so a caller can report a truncated last fragment.
   */
  flush(): string | null {
    const rest = (this.#text ?? UTF8.decode(this.#codes.subarray(0, this.#held))).trim();
    this.#held = 0;
    this.#text = null;
    this.#inFragment = false;
    return rest.length > 0 ? rest : null;
  }

  /** `#codes` with room for `size` codes, the held ones kept at its start. */
  #reserve(size: number): Uint8Array {
    if (size > this.#codes.length) {
      const held = this.#codes.subarray(0, this.#held);
      this.#allocate(Math.max(size, 2 * this.#codes.length, 2 * this.#maxBytes)).set(held);
    }
    return this.#codes;
  }

  /** Replaces `#codes` (and `#words`) with a new buffer of at least `size` codes. */
  #allocate(size: number): Uint8Array {
    // Whole words, so that `#words` covers every code.
    this.#codes = new Uint8Array((size + 3) & ~3);
    this.#words = new Uint32Array(this.#codes.buffer);
    return this.#codes;
  }

  /** Keeps `[from..len)` of the scanned codes (and text) for the next push. */
  #keep(from: number): void {
    const b = this.#b;
    const len = this.#len;
    const held = len - from;
    if (b.length > MAX_KEPT_CAPACITY_BYTES) {
      this.#allocate(Math.max(held, 2 * this.#maxBytes)).set(b.subarray(from, len));
    } else {
      b.copyWithin(0, from, len);
    }
    this.#held = held;
    this.#text = null;
    if (this.#s !== null) {
      // Text is kept only while the held part still has non-ASCII characters.
      const codes = this.#codes;
      for (let k = 0; k < held; k++) {
        if (codes[k] === NON_ASCII) {
          this.#text = this.#s.slice(from, len);
          break;
        }
      }
    }
  }

  #scan(onFragment: FragmentSink, match: FragmentMatcher | undefined): void {
    const b = this.#b;
    const w = this.#w;
    const len = this.#len;
    const max = this.#maxBytes;
    // Start of the open fragment (or of the pending candidate tag) within the codes.
    let start = 0;
    let cursor = this.#cursor;
    let pos = 0; // garbage-mode search position

    for (;;) {
      if (!this.#inFragment) {
        const found = this.#findRoot(pos);
        if (found < 0) {
          // `-(i + 1)`: a possible root tag starts at i but needs more input.
          const keep = found === -Infinity ? len : -found - 1;
          this.#drop(pos, keep);
          this.#keep(keep);
          this.#cursor = 0;
          return;
        }
        this.#drop(pos, found);
        start = found;
        let nameEnd = found + 1;
        while (b[nameEnd] !== GT) nameEnd++;
        this.#rootLen = nameEnd - found - 1;
        cursor = nameEnd + 1;
        this.#inFragment = true;
        // The matcher vouches for the whole fragment or leaves it to the walk below.
        const end = match === undefined ? -1 : match(b, start, len);
        if (end > 0 && end - start <= max) {
          onFragment(new CodeText(b, start, end, this.#s), true);
          this.stats.fragments++;
          this.#inFragment = false;
          pos = end;
          continue;
        }
      }

      // Fragment mode: walk tags from `cursor`.
      const lt = indexOfLt(b, w, cursor, len);
      // The `>` closing the tag at `lt`; -1 if not yet arrived; -2 if a `<` comes first.
      let tagEnd = -1;
      if (lt >= 0) {
        const angle = indexOfAngle(b, w, lt + 1, len, true);
        if (angle >= 0) tagEnd = b[angle] === GT ? angle : -2;
      }
      if (tagEnd === -1) {
        const waitAt = lt < 0 ? len : lt;
        if (len - start > max) {
          this.stats.overflows++;
          this.#drop(start, waitAt);
          this.#inFragment = false;
          pos = waitAt;
          continue;
        }
        this.#keep(start);
        this.#cursor = waitAt - start;
        return;
      }
      if (tagEnd === -2) {
        // A `<` inside a tag: the first `<` was stray text; re-tokenize from the next one.
        cursor = indexOfLt(b, w, lt + 1, len);
        continue;
      }

      const isClose = b[lt + 1] === SLASH;
      if (!isClose) {
        // Cheapest test first: most start tags are children whose text follows right away.
        const after = tagEnd + 1 < len ? b[tagEnd + 1] : LT;
        const look = after !== LT && !isSpace(after) ? NO : this.#rootLooking(lt, tagEnd);
        if (look === NEED_MORE) {
          if (len - start > max) {
            this.stats.overflows++;
            this.#drop(start, lt);
            this.#inFragment = false;
            pos = lt;
            continue;
          }
          this.#keep(start);
          this.#cursor = lt - start;
          return;
        }
        if (look === YES) {
          // Flat fragments cannot nest: the open one lost its close tag.
          this.#drop(start, lt);
          this.#inFragment = false;
          pos = lt;
          continue;
        }
      }
      if (tagEnd + 1 - start > max) {
        this.stats.overflows++;
        this.#drop(start, lt);
        this.#inFragment = false;
        pos = lt;
        continue;
      }
      cursor = tagEnd + 1;
      // Child tags, matched or not, are the decoder's business; only the root's close matters here.
      if (
        isClose && sameName(b, lt + 2, this.#nameLength(lt + 2, tagEnd), start + 1, this.#rootLen)
      ) {
        onFragment(new CodeText(b, start, tagEnd + 1, this.#s), false);
        this.stats.fragments++;
        this.#inFragment = false;
        pos = tagEnd + 1;
      }
    }
  }

  /**
   * Index of the first root-looking start tag at or after `from`; `-(i + 1)` when the tag at `i`
   * may be one but needs more input; `-Infinity` when nothing scanned can start a root.
   */
  #findRoot(from: number): number {
    const b = this.#b;
    const w = this.#w;
    const len = this.#len;
    let i = indexOfLt(b, w, from, len);
    while (i >= 0) {
      if (i + 1 >= len) return -(i + 1);
      if (!isLetter(b[i + 1])) {
        i = indexOfLt(b, w, i + 1, len);
        continue;
      }
      let j = i + 2;
      while (j < len && isAlnum(b[j])) j++;
      if (j >= len) return j - i > this.#maxBytes ? -Infinity : -(i + 1);
      if (b[j] !== GT) {
        i = indexOfLt(b, w, j, len);
        continue;
      }
      const look = this.#rootLooking(i, j);
      if (look === YES) return i;
      if (look === NEED_MORE) return -(i + 1);
      i = indexOfLt(b, w, i + 1, len);
    }
    return -Infinity;
  }

  /**
   * Whether the start tag `[lt..gt]` is `<Name>` (letters/digits) followed, after whitespace, by
   * a child start tag. Candidates whose look-ahead would exceed the buffer bound are rejected, so
   * the answer does not depend on how the input was chunked.
   */
  #rootLooking(lt: number, gt: number): Look {
    const b = this.#b;
    const len = this.#len;
    const after = b[gt + 1];
    if (gt + 1 < len && after !== LT && !isSpace(after)) return NO;
    if (!isLetter(b[lt + 1])) return NO;
    for (let k = lt + 2; k < gt; k++) if (!isAlnum(b[k])) return NO;
    const limit = lt + this.#maxBytes;
    let k = gt + 1;
    while (k < len && k < limit && isSpace(b[k])) k++;
    if (k >= limit) return NO;
    if (k >= len) return NEED_MORE;
    if (b[k] !== LT) return NO;
    if (k + 1 >= len) return NEED_MORE;
    return isLetter(b[k + 1]) ? YES : NO;
  }

  /** Length of the tag name starting at `at` (up to whitespace, `/` or the tag end `gt`). */
  #nameLength(at: number, gt: number): number {
    const b = this.#b;
    const last = b[gt - 1];
    if (!isSpace(last) && last !== SLASH) return gt - at;
    let k = at;
    while (k < gt) {
      const c = b[k];
      if (c === SLASH || isSpace(c)) break;
      k++;
    }
    return k - at;
  }

  /** Counts discarded non-whitespace characters of `[from..to)`. */
  #drop(from: number, to: number): void {
    const b = this.#b;
    let n = 0;
    for (let k = from; k < to; k++) if (!isSpace(b[k])) n++;
    this.stats.droppedBytes += n;
  }
}

/** One-shot split of a complete byte stream; an unfinished trailing fragment is discarded. */
export function splitFragments(bytes: Uint8Array): string[] {
  return new FragmentSplitter().push(bytes);
}
