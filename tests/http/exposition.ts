/**
 * A strict reader of the Prometheus text format (0.0.4) for tests: it throws where a strict
 * scraper would complain — a family met twice (samples not contiguous), a second `# HELP` or
 * `# TYPE`, a `# TYPE` after the family's samples, a sample whose family has no `# TYPE`, a
 * malformed sample line or label set, or a value that is not a number.
 *
 * @module
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: string;
  help: string;
  samples: Sample[];
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/;
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

/** The families of `text` in order; throws with the offending line on any violation. */
export function parseExposition(text: string): Family[] {
  if (!text.endsWith("\n")) throw new Error("the exposition does not end with a newline");
  const families: Family[] = [];
  const closed = new Set<string>();
  let current: Family | null = null;
  const enter = (name: string, line: string): Family => {
    if (current?.name === name) return current;
    if (current !== null) closed.add(current.name);
    if (closed.has(name)) throw new Error(`family ${name} is not contiguous: ${line}`);
    current = { name, type: "", help: "", samples: [] };
    families.push(current);
    return current;
  };
  for (const line of text.slice(0, -1).split("\n")) {
    const comment = line.match(/^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/);
    if (comment) {
      const family = enter(comment[2], line);
      if (comment[1] === "HELP") {
        if (family.help !== "") throw new Error(`second HELP: ${line}`);
        family.help = comment[3];
      } else {
        if (family.type !== "") throw new Error(`second TYPE: ${line}`);
        if (family.samples.length > 0) throw new Error(`TYPE after samples: ${line}`);
        if (!TYPES.has(comment[3])) throw new Error(`unknown type: ${line}`);
        family.type = comment[3];
      }
      continue;
    }
    if (line.startsWith("#")) continue;
    const match = line.match(SAMPLE_LINE);
    if (!match) throw new Error(`malformed sample: ${JSON.stringify(line)}`);
    const family = enter(match[1], line);
    if (family.type === "") throw new Error(`sample without TYPE: ${line}`);
    const value = Number(match[4]);
    if (match[4] === "" || (Number.isNaN(value) && match[4] !== "NaN")) {
      throw new Error(`bad value: ${line}`);
    }
    family.samples.push({ name: match[1], labels: parseLabels(match[3] ?? "", line), value });
  }
  return families;
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let rest = text;
  while (rest !== "") {
    const match = rest.match(LABEL);
    if (!match) throw new Error(`malformed labels: ${line}`);
    if (match[1] in labels) throw new Error(`repeated label ${match[1]}: ${line}`);
    labels[match[1]] = match[2].replace(/\\n/g, "\n").replace(/\\(["\\])/g, "$1");
    rest = rest.slice(match[0].length);
  }
  return labels;
}
