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
 * @module
 */

const DEFAULT_MAX_BUFFER_BYTES = 8192;

// Deno's TextDecoder implements WHATWG windows-1252: 0x80 → U+20AC, 0x81 → U+0081, 0x9F → U+0178,
// every byte maps to a character. Measured 4–5× faster than a JS table for reads of 256 B and up.
const WINDOWS_1252 = new TextDecoder("windows-1252");
// Matching control characters is the point: NULs and other C0 noise occur on real radios.
// deno-lint-ignore no-control-regex
const HAS_STRIPPABLE_CONTROL = /[\x00-\x08\x0B\x0C\x0E-\x1F]/;
// deno-lint-ignore no-control-regex
const STRIPPABLE_CONTROLS = /[\x00-\x08\x0B\x0C\x0E-\x1F]+/g;

const LT = 0x3c; // <
const GT = 0x3e; // >
const SLASH = 0x2f; // /

/** Options for {@link FragmentSplitter}. */
export interface FragmentSplitterOptions {
  /** Longest fragment (and so the most text ever held between pushes). Default 8192. */
  maxBufferBytes?: number;
}

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
  const text = WINDOWS_1252.decode(bytes);
  return HAS_STRIPPABLE_CONTROL.test(text) ? text.replace(STRIPPABLE_CONTROLS, "") : text;
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

/** Case-insensitive comparison of two tag names stored in `s`; a heuristic, the decoder is exact. */
function sameName(s: string, a: number, aLen: number, b: number, bLen: number): boolean {
  if (aLen !== bLen) return false;
  for (let k = 0; k < aLen; k++) {
    if ((s.charCodeAt(a + k) | 0x20) !== (s.charCodeAt(b + k) | 0x20)) return false;
  }
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
  /** Unconsumed text; when `#inFragment`, it starts with the fragment's root start tag. */
  #buf = "";
  #inFragment = false;
  /** Root name length; the name starts at offset 1 of the fragment. */
  #rootLen = 0;
  /** Where tokenizing resumes, relative to the start of `#buf`. */
  #cursor = 0;

  constructor(options: FragmentSplitterOptions = {}) {
    const max = options.maxBufferBytes ?? DEFAULT_MAX_BUFFER_BYTES;
    if (!Number.isInteger(max) || max < 16) {
      throw new RangeError(`maxBufferBytes must be an integer >= 16, got ${max}`);
    }
    this.#maxBytes = max;
  }

  /** Characters currently held back waiting for more input (always <= maxBufferBytes). */
  get bufferedBytes(): number {
    return this.#buf.length;
  }

  /** Adds bytes; returns the fragments they completed, in stream order. */
  push(chunk: Uint8Array): string[] {
    const text = decodeWindows1252(chunk);
    const out: string[] = [];
    if (text.length > 0) this.#scan(this.#buf + text, out);
    return out;
  }

  /**
   * Ends the stream: returns the unfinished fragment text still buffered (null when there is
   * none) and resets the splitter, so a caller can report a truncated last fragment.
   */
  flush(): string | null {
    const rest = this.#buf.trim();
    this.#buf = "";
    this.#inFragment = false;
    return rest.length > 0 ? rest : null;
  }

  #scan(s: string, out: string[]): void {
    const len = s.length;
    const max = this.#maxBytes;
    // Start of the open fragment (or of the pending candidate tag) within `s`.
    let start = 0;
    let cursor = this.#cursor;
    let pos = 0; // garbage-mode search position

    for (;;) {
      if (!this.#inFragment) {
        const found = this.#findRoot(s, pos);
        if (found < 0) {
          // `-(i + 1)`: a possible root tag starts at i but needs more input.
          const keep = found === -Infinity ? len : -found - 1;
          this.#drop(s, pos, keep);
          this.#buf = s.slice(keep);
          this.#cursor = 0;
          return;
        }
        this.#drop(s, pos, found);
        start = found;
        let nameEnd = found + 1;
        while (s.charCodeAt(nameEnd) !== GT) nameEnd++;
        this.#rootLen = nameEnd - found - 1;
        cursor = nameEnd + 1;
        this.#inFragment = true;
      }

      // Fragment mode: walk tags from `cursor`.
      const lt = s.indexOf("<", cursor);
      const tagEnd = lt < 0 ? -1 : this.#tagEnd(s, lt);
      if (lt < 0 || tagEnd === -1) {
        const waitAt = lt < 0 ? len : lt;
        if (len - start > max) {
          this.stats.overflows++;
          this.#drop(s, start, waitAt);
          this.#inFragment = false;
          pos = waitAt;
          continue;
        }
        this.#buf = s.slice(start);
        this.#cursor = waitAt - start;
        return;
      }
      if (tagEnd === -2) {
        // A `<` inside a tag: the first `<` was stray text; re-tokenize from the next one.
        cursor = s.indexOf("<", lt + 1);
        continue;
      }

      const isClose = s.charCodeAt(lt + 1) === SLASH;
      if (!isClose) {
        const look = this.#rootLooking(s, lt, tagEnd);
        if (look === NEED_MORE) {
          if (len - start > max) {
            this.stats.overflows++;
            this.#drop(s, start, lt);
            this.#inFragment = false;
            pos = lt;
            continue;
          }
          this.#buf = s.slice(start);
          this.#cursor = lt - start;
          return;
        }
        if (look === YES) {
          // Flat fragments cannot nest: the open one lost its close tag.
          this.#drop(s, start, lt);
          this.#inFragment = false;
          pos = lt;
          continue;
        }
      }
      if (tagEnd + 1 - start > max) {
        this.stats.overflows++;
        this.#drop(s, start, lt);
        this.#inFragment = false;
        pos = lt;
        continue;
      }
      cursor = tagEnd + 1;
      // Child tags, matched or not, are the decoder's business; only the root's close matters here.
      if (
        isClose &&
        sameName(s, lt + 2, this.#nameLength(s, lt + 2, tagEnd), start + 1, this.#rootLen)
      ) {
        out.push(s.slice(start, tagEnd + 1));
        this.stats.fragments++;
        this.#inFragment = false;
        pos = tagEnd + 1;
      }
    }
  }

  /**
   * Index of the first root-looking start tag at or after `from`; `-(i + 1)` when the tag at `i`
   * may be one but needs more input; `-Infinity` when nothing in `s` can start a root.
   */
  #findRoot(s: string, from: number): number {
    const len = s.length;
    let i = s.indexOf("<", from);
    while (i >= 0) {
      if (i + 1 >= len) return -(i + 1);
      if (!isLetter(s.charCodeAt(i + 1))) {
        i = s.indexOf("<", i + 1);
        continue;
      }
      let j = i + 2;
      while (j < len && isAlnum(s.charCodeAt(j))) j++;
      if (j >= len) return j - i > this.#maxBytes ? -Infinity : -(i + 1);
      if (s.charCodeAt(j) !== GT) {
        i = s.indexOf("<", j);
        continue;
      }
      const look = this.#rootLooking(s, i, j);
      if (look === YES) return i;
      if (look === NEED_MORE) return -(i + 1);
      i = s.indexOf("<", i + 1);
    }
    return -Infinity;
  }

  /**
   * Whether the start tag `s[lt..gt]` is `<Name>` (letters/digits) followed, after whitespace, by
   * a child start tag. Candidates whose look-ahead would exceed the buffer bound are rejected, so
   * the answer does not depend on how the input was chunked.
   */
  #rootLooking(s: string, lt: number, gt: number): Look {
    const len = s.length;
    // Cheapest test first: most start tags are children whose text follows right away.
    const after = s.charCodeAt(gt + 1);
    if (gt + 1 < len && after !== LT && !isSpace(after)) return NO;
    if (!isLetter(s.charCodeAt(lt + 1))) return NO;
    for (let k = lt + 2; k < gt; k++) if (!isAlnum(s.charCodeAt(k))) return NO;
    const limit = lt + this.#maxBytes;
    let k = gt + 1;
    while (k < len && k < limit && isSpace(s.charCodeAt(k))) k++;
    if (k >= limit) return NO;
    if (k >= len) return NEED_MORE;
    if (s.charCodeAt(k) !== LT) return NO;
    if (k + 1 >= len) return NEED_MORE;
    return isLetter(s.charCodeAt(k + 1)) ? YES : NO;
  }

  /** Index of the `>` closing the tag at `lt`; -1 if not yet arrived; -2 if a `<` comes first. */
  #tagEnd(s: string, lt: number): number {
    const len = s.length;
    for (let k = lt + 1; k < len; k++) {
      const c = s.charCodeAt(k);
      if (c === GT) return k;
      if (c === LT) return -2;
    }
    return -1;
  }

  /** Length of the tag name starting at `at` (up to whitespace, `/` or the tag end `gt`). */
  #nameLength(s: string, at: number, gt: number): number {
    const last = s.charCodeAt(gt - 1);
    if (!isSpace(last) && last !== SLASH) return gt - at;
    let k = at;
    while (k < gt) {
      const c = s.charCodeAt(k);
      if (c === SLASH || isSpace(c)) break;
      k++;
    }
    return k - at;
  }

  /** Counts discarded non-whitespace characters of `s[from..to)`. */
  #drop(s: string, from: number, to: number): void {
    let n = 0;
    for (let k = from; k < to; k++) if (!isSpace(s.charCodeAt(k))) n++;
    this.stats.droppedBytes += n;
  }
}

/** One-shot split of a complete byte stream; an unfinished trailing fragment is discarded. */
export function splitFragments(bytes: Uint8Array): string[] {
  return new FragmentSplitter().push(bytes);
}
