/**
 * The shape of a Green Button Batch feed, read from its Atom link graph, so a feed of ours can be
 * held against a real Data Custodian's (the captured OpenESPI `Batch/Subscription/5` response in
 * the reference samples): every entry's `self` lies in the customer's own tree below the feed's
 * prefix (`Subscription/{id}` or `RetailCustomer/{id}`) or is a shared root-level ReadingType or
 * LocalTimeParameters; every `up` is its `self` less the last segment; every `related` link stays
 * in the entry's own usage point or names a root-level entry of the same feed.
 *
 * @module
 */

export interface FeedLink {
  rel: string;
  href: string;
}

export interface FeedEntry {
  id: string;
  links: FeedLink[];
  self: string;
}

export interface ParsedFeed {
  id: string;
  self: string;
  entries: FeedEntry[];
}

const attribute = (attributes: string, name: string) =>
  new RegExp(`\\b${name}="([^"]*)"`).exec(attributes)?.[1] ?? "";

const linksOf = (xml: string): FeedLink[] =>
  [...xml.matchAll(/<link\b([^>]*?)\/?>/g)].map((match) => ({
    rel: attribute(match[1], "rel"),
    href: attribute(match[1], "href").replaceAll("&amp;", "&"),
  }));

/** The feed's id and self link, and each entry's id and links. */
export function parseFeed(xml: string): ParsedFeed {
  const entries = [...xml.matchAll(/<entry\b[^>]*>([\s\S]*?)<\/entry>/g)].map((match) => {
    const links = linksOf(match[1]);
    return {
      id: /<id>([^<]*)<\/id>/.exec(match[1])?.[1] ?? "",
      links,
      self: links.find((link) => link.rel === "self")?.href ?? "",
    };
  });
  const head = xml.slice(0, xml.search(/<entry\b/) === -1 ? undefined : xml.search(/<entry\b/));
  return {
    id: /<id>([^<]*)<\/id>/.exec(head)?.[1] ?? "",
    self: linksOf(head).find((link) => link.rel === "self")?.href ?? "",
    entries,
  };
}

const ROOT_KINDS = new Set(["ReadingType", "LocalTimeParameters"]);

/** The kind of resource a path below the base names, ids left out (`UsagePoint/MeterReading`). */
function kindOf(path: string, prefix: string): string | null {
  const rootMatch = /^([A-Za-z]+)\/[^/]+$/.exec(path);
  if (rootMatch !== null && ROOT_KINDS.has(rootMatch[1])) return rootMatch[1];
  if (!path.startsWith(`${prefix}/UsagePoint/`)) return null;
  const segments = path.slice(prefix.length + 1).split("/");
  if (segments.length % 2 !== 0) return null;
  return segments.filter((_, index) => index % 2 === 0).join("/");
}

/** The usage point (`{prefix}/UsagePoint/{id}`) a path lies in, or null. */
function usagePointOf(path: string, prefix: string): string | null {
  const match = new RegExp(`^${prefix.replace(/[/.]/g, "\\$&")}/UsagePoint/[^/]+`).exec(path);
  return match?.[0] ?? null;
}

/**
 * What departs from the shape of a Data Custodian Batch feed for one customer below `prefix`
 * (every href absolute under `base`), and the kinds of entries it has.
 */
export function feedShape(
  xml: string,
  base: string,
  prefix: string,
): { problems: string[]; kinds: Set<string> } {
  const feed = parseFeed(xml);
  const problems: string[] = [];
  const kinds = new Set<string>();
  const relative = (href: string) => {
    if (!href.startsWith(`${base}/`)) {
      problems.push(`${href} is not under ${base}`);
      return "";
    }
    return href.slice(base.length + 1);
  };
  const rootSelves = new Set(
    feed.entries.map((entry) => relative(entry.self)).filter((path) =>
      !path.includes("UsagePoint")
    ),
  );
  for (const entry of feed.entries) {
    const self = relative(entry.self);
    const kind = kindOf(self, prefix);
    if (kind === null) {
      problems.push(`entry ${self} is outside ${prefix} and the root resources`);
      continue;
    }
    kinds.add(kind);
    const ups = entry.links.filter((link) => link.rel === "up").map((link) => relative(link.href));
    if (ups.length !== 1 || ups[0] !== self.slice(0, self.lastIndexOf("/"))) {
      problems.push(`entry ${self} has up ${ups.join(", ")}`);
    }
    const usagePoint = usagePointOf(self, prefix);
    for (const link of entry.links.filter((candidate) => candidate.rel === "related")) {
      const path = relative(link.href);
      const inOwnTree = usagePoint !== null && path.startsWith(`${usagePoint}/`);
      if (!inOwnTree && !rootSelves.has(path)) {
        problems.push(`entry ${self} relates to ${path}, outside its usage point and this feed`);
      }
    }
  }
  return { problems, kinds };
}
