/**
 * Matching a request to a route: first matching route (in registration order) wins; a path no
 * route has is 404, a path that exists under other methods is 405 with `Allow` (GET implies
 * HEAD). Paths are compiled once into a segment trie (literal segments and `:name` parameters),
 * so a request walks its own segments instead of running every route's URLPattern; a path using
 * other URLPattern syntax (`*`, groups, modifiers) is matched by its URLPattern as before.
 *
 * @module
 */

import { jsonError } from "./errors.ts";
import type { Route } from "./routes.ts";

export interface RouteMatch {
  route: Route;
  params: Record<string, string | undefined>;
}

export type Router = (method: string, pathname: string) => RouteMatch | Response;

interface Node {
  literals: Map<string, Node>;
  /** Children under a `:name` segment, by name (routes may name the same position apart). */
  params: Map<string, Node>;
  /** Routes ending here, with their registration index. */
  routes: { index: number; route: Route }[];
}

interface Candidate {
  index: number;
  route: Route;
  params: Record<string, string | undefined>;
}

/** A segment URLPattern reads as a parameter: `:` then a name. */
const PARAM_SEGMENT = /^:([A-Za-z_$][A-Za-z0-9_$]*)$/;
/** Characters that make a segment more than a literal in URLPattern syntax. */
const PATTERN_SYNTAX = /[*(){}?+:\\]/;

/** Compiles `routes` once. */
export function createRouter(routes: Route[]): Router {
  const root = newNode();
  const patterned: { index: number; route: Route; pattern: URLPattern }[] = [];
  routes.forEach((route, index) => {
    const segments = route.path.split("/").slice(1);
    const simple = route.path.startsWith("/") &&
      segments.every((s) => PARAM_SEGMENT.test(s) || !PATTERN_SYNTAX.test(s));
    if (!simple) {
      patterned.push({ index, route, pattern: new URLPattern({ pathname: route.path }) });
      return;
    }
    let node = root;
    for (const segment of segments) {
      const param = PARAM_SEGMENT.exec(segment);
      const children = param === null ? node.literals : node.params;
      const key = param === null ? segment : param[1];
      let child = children.get(key);
      if (child === undefined) children.set(key, child = newNode());
      node = child;
    }
    node.routes.push({ index, route });
  });

  return (method, pathname) => {
    const matches: Candidate[] = [];
    collect(root, pathname.split("/").slice(1), 0, {}, matches);
    for (const { index, route, pattern } of patterned) {
      const match = pattern.exec({ pathname });
      if (match !== null) matches.push({ index, route, params: match.pathname.groups });
    }
    if (matches.length === 0) return jsonError(404, "not_found", "no such resource");
    matches.sort((a, b) => a.index - b.index);
    const wanted = method === "HEAD" ? "GET" : method;
    const chosen = matches.find((m) => m.route.method === wanted);
    if (chosen === undefined) {
      const allowed: string[] = [...new Set(matches.map((m) => m.route.method))];
      if (allowed.includes("GET")) allowed.push("HEAD");
      return jsonError(405, "method_not_allowed", `use ${allowed.join(", ")}`, {
        Allow: allowed.join(", "),
      });
    }
    return { route: chosen.route, params: chosen.params };
  };
}

function newNode(): Node {
  return { literals: new Map(), params: new Map(), routes: [] };
}

/** Every route matching `segments` from `at`, with the parameters on its way. */
function collect(
  node: Node,
  segments: string[],
  at: number,
  params: Record<string, string>,
  out: Candidate[],
): void {
  if (at === segments.length) {
    for (const { index, route } of node.routes) out.push({ index, route, params: { ...params } });
    return;
  }
  const segment = segments[at];
  const literal = node.literals.get(segment);
  if (literal !== undefined) collect(literal, segments, at + 1, params, out);
  // A parameter is one non-empty segment, as URLPattern's `:name` is.
  if (segment === "") return;
  for (const [name, child] of node.params) {
    collect(child, segments, at + 1, { ...params, [name]: segment }, out);
  }
}
