/**
 * The well-formedness scan of one flat fragment (root element, text-only children, no attributes,
 * no namespaces; names case-insensitive): where the root name and each child are, as offsets, and
 * which field of `fields.ts` each child is.
 *
 * @module
 */

import { COMMON, type CompiledField, type CompiledFragment } from "./compiled.ts";
import {
  AMP,
  AMP_CODE,
  closeNameEnd,
  CodeText,
  GT,
  isExactName,
  isLetter,
  lookupName,
  LT,
  nameEnd,
  type NameTable,
  numberStart,
  skipSpace,
  SLASH,
  trimSpace,
  unescapeText,
} from "./xml_text.ts";

/** A well-formed flat fragment: root name and its children's names and entity-decoded texts. */
export interface FragmentXml {
  root: string;
  names: string[];
  texts: string[];
  /** Problems that did not make the fragment unusable (undecodable entities). */
  warnings: string[];
}

/** Outcome of {@link parseFragmentXml}. */
export type FragmentXmlResult =
  | ({ ok: true } & FragmentXml)
  | { ok: false; root: string | null; error: string };

/** Failure of {@link FragmentScan.run}; `rootKnown` says whether the scan holds the root name. */
export interface ScanError {
  rootKnown: boolean;
  error: string;
}

/** Code `k` of `b` before `end`; -1 past it (the codes after a fragment may be another's). */
function codeAt(b: Uint8Array, k: number, end: number): number {
  return k < end ? b[k] : -1;
}

const EMPTY = CodeText.of("");

/** Whether `b` holds exactly `codes` at `at`, before `end`. */
function hasCodes(b: Uint8Array, at: number, codes: Uint8Array, end: number): boolean {
  if (at + codes.length > end) return false;
  for (let k = 0; k < codes.length; k++) if (b[at + k] !== codes[k]) return false;
  return true;
}

/** A `prefix` run that cannot vouch for the fragment (the framing then walks it itself). */
const PREFIX_MISS: ScanError = { rootKnown: false, error: "not matched as a whole fragment" };

function malformed(error: string): ScanError {
  return { rootKnown: true, error: `not well-formed: ${error}` };
}

/** The field of `c` named `b[at..end)`, numbered fields (`Price2`) included. */
function resolveField(
  c: CompiledFragment,
  b: Uint8Array,
  at: number,
  end: number,
): CompiledField | null {
  const field = lookupName(c.fields, b, at, end);
  if (field !== undefined) return field;
  if (!c.hasNumbered) return null;
  const numberAt = numberStart(b, at, end);
  return numberAt < end ? lookupName(c.numbered, b, at, numberAt) ?? null : null;
}

/**
 * Where {@link FragmentScan.run} found the root name and each child of `text`, as offsets into its
 * codes: `[nameStart, nameEnd, textStart, textEnd]` per child, text untrimmed. Offsets rather
 * than strings save the name and text strings the decoder would otherwise cut out of every
 * fragment and throw away. A scan may be run again on the next fragment, which reuses its arrays
 * (the decoder's one scan makes no garbage per fragment); what it found is valid until then.
 */
export class FragmentScan {
  rootStart = 0;
  rootEnd = 0;
  /** The fragment children were resolved against (COMMON for unknown roots), if asked to. */
  compiled: CompiledFragment | null = null;
  /** Whether the root is one `fields.ts` defines. */
  known = false;
  children = 0;
  /** Whether some child's text has an `&`, so it may need entity decoding. */
  ampersand = false;
  /** Small integers in a plain array, `4 * children` of them valid (the rest is a past scan's). */
  readonly spans: number[] = [];
  /**
   * Each child's field when resolved; null when the fragment does not define that child
   * (`children` of them valid).
   */
  readonly fields: (CompiledField | null)[] = [];
  /** The fragment scanned last. */
  text: CodeText = EMPTY;
  /** After a `prefix` run: where the fragment ends (just after its root's close tag). */
  end = 0;

  /** Root name, for messages and unknown fragments. */
  root(): string {
    return this.text.slice(this.rootStart, this.rootEnd);
  }

  /** Name of child `k`. */
  childName(k: number): string {
    return this.text.slice(this.spans[4 * k], this.spans[4 * k + 1]);
  }

  /** Entity-decoded, trimmed text of child `k`. */
  childText(k: number, warnings: string[]): string {
    const text = trimSpace(this.text.slice(this.spans[4 * k + 2], this.spans[4 * k + 3]));
    return text.includes(AMP) ? unescapeText(text, this.childName(k), warnings) : text;
  }

  /**
   * The `<` ending a child's text starting at `from`, -1 if none; notes an `&` on the way, as
   * entities are decoded only where there is one.
   */
  #textEnd(from: number): number {
    const b = this.text.codes;
    const len = this.text.end;
    for (let k = from; k < len; k++) {
      const code = b[k];
      if (code === LT) return k;
      if (code === AMP_CODE) this.ampersand = true;
    }
    return -1;
  }

  /**
   * Whether the name `[from..to)` is the root's, ASCII case-insensitively: where framing would
   * end the fragment at the child's close tag.
   */
  #namesRoot(from: number, to: number): boolean {
    const rootLen = this.rootEnd - this.rootStart;
    return to - from === rootLen &&
      closeNameEnd(this.text.codes, from, this.rootStart, rootLen, to) === to;
  }

  /** Records a child. */
  #addChild(
    nameStart: number,
    nameEnd: number,
    textStart: number,
    textEnd: number,
    field: CompiledField | null,
  ): void {
    const k = this.children++;
    this.spans[4 * k] = nameStart;
    this.spans[4 * k + 1] = nameEnd;
    this.spans[4 * k + 2] = textStart;
    this.spans[4 * k + 3] = textEnd;
    this.fields[k] = field;
  }

  /**
   * Checks that the fragment is one flat fragment and records where its parts are. Rejects
   * anything that is not well-formed: nested elements, text directly in the root, attributes,
   * mismatched or missing close tags, trailing content. Returns null when the fragment is
   * well-formed. With `roots`, also looks the root up there and resolves every child to its field.
   *
   * Devices send children in table order with the names as the table spells them, so with `roots`
   * each child name is first compared with the next expected field's, which reads every character
   * once instead of three times (find the name's end, look it up, match the close tag). A name
   * that does not fit takes the general path; both accept exactly the same input.
   *
   * With `prefix`, the fragment is only what precedes the root's close tag (its end is then in
   * `end`; what follows is not looked at), and the run fails unless the root is known and no child
   * is named like the root: the framing asks this way whether a fragment it found is whole and
   * flat, so it need not walk its tags (see `FragmentMatcher` in `framing.ts`).
   */
  run(
    text: CodeText,
    roots: NameTable<CompiledFragment> | null,
    prefix = false,
  ): ScanError | null {
    this.text = text;
    this.compiled = null;
    this.known = false;
    this.children = 0;
    this.ampersand = false;
    this.rootStart = this.rootEnd = text.start;
    const b = this.text.codes;
    const len = this.text.end;
    let i = skipSpace(b, this.text.start, len);
    if (codeAt(b, i, len) !== LT) {
      return { rootKnown: false, error: "not well-formed: does not start with a start tag" };
    }
    let end = nameEnd(b, i + 1, len);
    if (end === i + 1) {
      return { rootKnown: false, error: "not well-formed: malformed root start tag" };
    }
    const rootStart = i + 1;
    const rootLen = end - rootStart;
    this.rootStart = rootStart;
    this.rootEnd = end;
    let c: CompiledFragment | null = null;
    if (roots !== null) {
      c = lookupName(roots, b, rootStart, end) ?? null;
      this.known = c !== null;
      c ??= COMMON;
      this.compiled = c;
    }
    if (prefix && !this.known) return PREFIX_MISS;
    /** Slot of the field expected next. */
    let next = 0;
    i = skipSpace(b, end, len);
    if (codeAt(b, i, len) === SLASH && codeAt(b, i + 1, len) === GT) {
      if (prefix) return PREFIX_MISS;
      return skipSpace(b, i + 2, len) < len ? malformed(`content after <${this.root()}/>`) : null;
    }
    if (codeAt(b, i, len) !== GT) {
      const root = this.root();
      return malformed(
        isLetter(codeAt(b, i, len)) ? `attributes on <${root}>` : `malformed <${root}>`,
      );
    }
    i++;
    for (;;) {
      i = skipSpace(b, i, len);
      if (i >= len) return malformed(`<${this.root()}> is never closed`);
      if (b[i] !== LT) {
        return malformed(`text directly inside <${this.root()}>`);
      }
      if (this.known && hasCodes(b, i, c!.rootCloseTag, len)) {
        // The root's close tag as the table spells it (what devices send).
        this.end = i + c!.rootCloseTag.length;
        if (prefix) return null;
        return skipSpace(b, this.end, len) < len
          ? malformed(`content after </${this.root()}>`)
          : null;
      }
      if (codeAt(b, i + 1, len) === SLASH) {
        // A known root matches its table spelling case-insensitively, and so its exact close tag.
        end = this.known && isExactName(b, i + 2, c!.rootName, len)
          ? i + 2 + rootLen
          : closeNameEnd(b, i + 2, rootStart, rootLen, len);
        if (end < 0) {
          const found = this.text.slice(i + 2, nameEnd(b, i + 2, len));
          return malformed(`expected </${this.root()}>, found </${found}>`);
        }
        i = skipSpace(b, end, len);
        if (codeAt(b, i, len) !== GT) return malformed(`malformed </${this.root()}>`);
        this.end = i + 1;
        if (prefix) return null;
        if (skipSpace(b, i + 1, len) < len) {
          return malformed(`content after </${this.root()}>`);
        }
        return null;
      }
      const expected = c !== null && next < c.order.length ? c.order[next] : null;
      // Fastest path: the next field's `<Name>text</Name>` exactly as the table spells it (what
      // devices send). Anything else takes the general path below, which accepts the same.
      if (expected !== null && hasCodes(b, i, expected.openTag, len)) {
        const textStart = i + expected.openTag.length;
        const lt = this.#textEnd(textStart);
        if (
          lt >= 0 && hasCodes(b, lt, expected.closeTag, len) &&
          !(prefix && this.#namesRoot(i + 1, textStart - 1))
        ) {
          this.#addChild(i + 1, textStart - 1, textStart, lt, expected);
          next = expected.slot + 1;
          i = lt + expected.closeTag.length;
          continue;
        }
      }
      const nameStart = i + 1;
      let field: CompiledField | null = null;
      // Whether the name is exactly `field`'s table spelling, so the close tag can be checked
      // against that spelling alone.
      let exact = false;
      if (expected !== null && isExactName(b, nameStart, expected.name, len)) {
        field = expected;
        exact = true;
        end = nameStart + expected.name.length;
      } else {
        end = nameEnd(b, nameStart, len);
        if (end === nameStart) return malformed(`malformed tag inside <${this.root()}>`);
        if (c !== null) field = resolveField(c, b, nameStart, end);
      }
      if (field !== null) next = field.slot + 1;
      const childNameEnd = end;
      if (prefix && this.#namesRoot(nameStart, childNameEnd)) return PREFIX_MISS;
      i = skipSpace(b, end, len);
      if (codeAt(b, i, len) === SLASH && codeAt(b, i + 1, len) === GT) {
        this.#addChild(nameStart, childNameEnd, i, i, field);
        i += 2;
        continue;
      }
      if (codeAt(b, i, len) !== GT) {
        return malformed(
          isLetter(codeAt(b, i, len))
            ? `attributes on <${this.text.slice(nameStart, childNameEnd)}>`
            : `malformed <${this.text.slice(nameStart, childNameEnd)}>`,
        );
      }
      const textStart = i + 1;
      const lt = this.#textEnd(textStart);
      if (lt < 0) return malformed(`<${this.text.slice(nameStart, childNameEnd)}> is never closed`);
      if (codeAt(b, lt + 1, len) !== SLASH) {
        return malformed(
          `element nested in <${this.text.slice(nameStart, childNameEnd)}> (fragments are flat)`,
        );
      }
      end = exact && isExactName(b, lt + 2, field!.name, len)
        ? lt + 2 + field!.name.length
        : closeNameEnd(b, lt + 2, nameStart, childNameEnd - nameStart, len);
      if (end < 0) {
        const found = this.text.slice(lt + 2, nameEnd(b, lt + 2, len));
        return malformed(
          `expected </${this.text.slice(nameStart, childNameEnd)}>, found </${found}>`,
        );
      }
      i = skipSpace(b, end, len);
      if (codeAt(b, i, len) !== GT) {
        return malformed(`malformed </${this.text.slice(nameStart, childNameEnd)}>`);
      }
      i++;
      this.#addChild(nameStart, childNameEnd, textStart, lt, field);
    }
  }
}

/**
 * Parses one flat fragment. Rejects anything that is not well-formed: nested elements, text
 * directly in the root, attributes, mismatched or missing close tags, trailing content.
 */
export function parseFragmentXml(xml: string): FragmentXmlResult {
  const scan = new FragmentScan();
  const failure = scan.run(CodeText.of(xml), null);
  if (failure !== null) {
    return { ok: false, root: failure.rootKnown ? scan.root() : null, error: failure.error };
  }
  const warnings: string[] = [];
  const names: string[] = [];
  const texts: string[] = [];
  for (let k = 0; k < scan.children; k++) {
    names.push(scan.childName(k));
    texts.push(scan.childText(k, warnings));
  }
  return { ok: true, root: scan.root(), names, texts, warnings };
}
