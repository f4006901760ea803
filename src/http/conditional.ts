/**
 * Conditional GET (RFC 9110 §13.1.2): whether an `If-None-Match` header matches a resource's
 * entity tag, and the 304 that answers it. `If-None-Match` compares weakly (`W/"x"` matches
 * `"x"`), `*` matches any current representation, and a list matches when one member does. A
 * malformed header matches nothing, so the client simply gets the full response.
 *
 * @module
 */

const ENTITY_TAG = /^\s*(?:W\/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*(?:,|$)/;

/** The opaque parts of a list of entity tags; null when the list is malformed. */
function opaqueTags(list: string): string[] | null {
  const tags: string[] = [];
  let rest = list;
  while (rest.trim() !== "") {
    // Empty list members (`a, , b`) are allowed by the list syntax.
    const empty = rest.match(/^\s*,/);
    if (empty) {
      rest = rest.slice(empty[0].length);
      continue;
    }
    const match = rest.match(ENTITY_TAG);
    if (match === null) return null;
    tags.push(match[1]);
    rest = rest.slice(match[0].length);
  }
  return tags;
}

/** The opaque part of an entity tag (`W/"x"` or `"x"` → `x`). */
function opaque(etag: string): string {
  return etag.replace(/^W\//, "").slice(1, -1);
}

/** True when `ifNoneMatch` (the header, or null) matches `etag` by weak comparison. */
export function ifNoneMatchHits(ifNoneMatch: string | null, etag: string): boolean {
  if (ifNoneMatch === null) return false;
  if (ifNoneMatch.trim() === "*") return true;
  return opaqueTags(ifNoneMatch)?.includes(opaque(etag)) ?? false;
}

/**
 * 304 Not Modified: no body, the entity tag and the headers a 200 would have carried that a cache
 * needs (`Vary`, `Cache-Control`).
 */
export function notModified(etag: string, headers: Record<string, string> = {}): Response {
  return new Response(null, { status: 304, headers: { ...headers, ETag: etag } });
}
