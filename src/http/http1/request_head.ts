/**
 * The request head of HTTP/1.1 (RFC 9112 §2–§7), parsed strictly: what a request smuggler or a
 * confused client sends is refused with the status RFC 9112 gives, never guessed at. Refused:
 * a malformed request line, obs-fold, whitespace before a colon, control characters, more than one
 * `Host` (or none in HTTP/1.1), `Content-Length` values that disagree, `Transfer-Encoding` with
 * `Content-Length`, and any transfer coding but `chunked`.
 *
 * @module
 */

/** A head that parsed: what the connection needs to frame the body and build the `Request`. */
export interface RequestHead {
  method: string;
  /** Origin-form path and query (`/graphql?x=1`); absolute-form is reduced to it. */
  target: string;
  /** The authority the request is for: the `Host` header, or an absolute-form target's. */
  host: string;
  /** `1` for HTTP/1.1, `0` for HTTP/1.0. */
  minorVersion: 0 | 1;
  /** Field lines in order, names as sent. */
  headers: [string, string][];
  /** Body framing: none, a length, or chunked. */
  body: { kind: "none" } | { kind: "length"; bytes: number } | { kind: "chunked" };
  /** The client asked to keep the connection open after this exchange. */
  keepAlive: boolean;
  /** `Expect: 100-continue`: send `100 Continue` before reading the body. */
  expectContinue: boolean;
}

/** A head that did not parse: the status to answer (then close) and why. */
export interface HeadError {
  status: 400 | 417 | 431 | 501 | 505;
  message: string;
}

export interface HeadLimits {
  /** Field lines beyond this answer 431. */
  maxHeaderCount: number;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Visible ASCII without space: the request target's alphabet (RFC 3986 plus what browsers send). */
const TARGET = /^[\x21-\x7e]+$/;
/** Field values: HTAB, SP, visible ASCII, obs-text (RFC 9110 §5.5). */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** `uri-host [ ":" port ]` (RFC 3986 §3.2.2): IP literal, or reg-name / IPv4 characters. */
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(?::[0-9]{0,5})?$/;
const DIGITS = /^[0-9]{1,15}$/;

function error(status: HeadError["status"], message: string): HeadError {
  return { status, message };
}

/**
 * Parses `text` (the head without its final blank line, lines ended by CRLF or a bare LF, each
 * byte one character) into a `RequestHead`, or the error to answer.
 */
export function parseRequestHead(text: string, limits: HeadLimits): RequestHead | HeadError {
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.endsWith("\r")) lines[i] = line.slice(0, -1);
    // A bare CR inside a line is how header injection is smuggled past a proxy.
    if (lines[i].includes("\r")) return error(400, "a bare CR in the request head");
  }
  const requestLine = lines[0];
  const [method, target, version, ...extra] = requestLine.split(" ");
  if (extra.length > 0 || version === undefined || target === "" || !TOKEN.test(method)) {
    return error(400, "malformed request line");
  }
  let minorVersion: 0 | 1;
  if (version === "HTTP/1.1") minorVersion = 1;
  else if (version === "HTTP/1.0") minorVersion = 0;
  else if (/^HTTP\/[0-9]\.[0-9]$/.test(version)) return error(505, "only HTTP/1.1 is served");
  else return error(400, "malformed HTTP version");
  if (!TARGET.test(target)) return error(400, "malformed request target");

  if (lines.length - 1 > limits.maxHeaderCount) {
    return error(431, `more than ${limits.maxHeaderCount} header fields`);
  }
  const headers: [string, string][] = [];
  let hosts: string[] = [];
  const lengths: string[] = [];
  const codings: string[] = [];
  const connectionOptions: string[] = [];
  let expect: string | null = null;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith(" ") || line.startsWith("\t")) {
      return error(400, "obsolete line folding is not accepted");
    }
    const colon = line.indexOf(":");
    if (colon <= 0) return error(400, "malformed header field");
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return error(400, "malformed header field name");
    const value = trimOws(line, colon + 1);
    if (!FIELD_VALUE.test(value)) return error(400, "a control character in a header field");
    headers.push([name, value]);
    switch (name.toLowerCase()) {
      case "host":
        hosts.push(value);
        break;
      case "content-length":
        for (const part of value.split(",")) lengths.push(part.trim());
        break;
      case "transfer-encoding":
        for (const part of value.split(",")) codings.push(part.trim().toLowerCase());
        break;
      case "connection":
        for (const part of value.split(",")) connectionOptions.push(part.trim().toLowerCase());
        break;
      case "expect":
        expect = expect === null ? value.toLowerCase() : `${expect},${value.toLowerCase()}`;
        break;
    }
  }

  let path = target;
  if (!target.startsWith("/")) {
    // Absolute-form (RFC 9112 §3.2.2): its authority replaces Host.
    const absolute = /^https?:\/\/([^/?#]+)([^#]*)$/i.exec(target);
    if (absolute === null) return error(400, "the request target must be a path");
    hosts = [absolute[1]];
    for (let i = headers.length - 1; i >= 0; i--) {
      if (headers[i][0].toLowerCase() === "host") headers.splice(i, 1);
    }
    headers.push(["host", absolute[1]]);
    path = absolute[2] === "" ? "/" : absolute[2].startsWith("/") ? absolute[2] : `/${absolute[2]}`;
  }
  if (path.includes("#")) return error(400, "malformed request target");
  if (hosts.length > 1) return error(400, "more than one Host header");
  if (hosts.length === 0 && minorVersion === 1) return error(400, "missing Host header");
  const host = hosts[0] ?? "";
  if (host !== "" && !HOST.test(host)) return error(400, "malformed Host header");

  let body: RequestHead["body"] = { kind: "none" };
  if (codings.length > 0) {
    if (lengths.length > 0) {
      return error(400, "both Transfer-Encoding and Content-Length");
    }
    if (minorVersion === 0) return error(400, "Transfer-Encoding in an HTTP/1.0 request");
    if (codings.length !== 1 || codings[0] !== "chunked") {
      return error(501, "only the chunked transfer coding is understood");
    }
    body = { kind: "chunked" };
  } else if (lengths.length > 0) {
    if (!lengths.every((length) => length === lengths[0]) || !DIGITS.test(lengths[0])) {
      return error(400, "malformed Content-Length");
    }
    const bytes = Number(lengths[0]);
    if (bytes > 0) body = { kind: "length", bytes };
  }

  let expectContinue = false;
  if (expect !== null) {
    if (expect !== "100-continue") return error(417, "only Expect: 100-continue is understood");
    expectContinue = minorVersion === 1;
  }
  const keepAlive = minorVersion === 1
    ? !connectionOptions.includes("close")
    : connectionOptions.includes("keep-alive");
  return {
    method,
    target: path,
    host,
    minorVersion,
    headers,
    body,
    keepAlive,
    expectContinue,
  };
}

/**
 * `line` from `start` without leading and trailing spaces and tabs, by index: the regex form
 * (`/^[ \t]+|[ \t]+$/`) takes quadratic time on a value of spaces that do not end it (30 KB:
 * ~0.5 s of a blocked event loop per request).
 */
function trimOws(line: string, start: number): string {
  let end = line.length;
  while (start < end && (line.charCodeAt(start) === 32 || line.charCodeAt(start) === 9)) start++;
  while (end > start && (line.charCodeAt(end - 1) === 32 || line.charCodeAt(end - 1) === 9)) end--;
  return line.slice(start, end);
}

/** True when `parsed` is an error to answer. */
export function isHeadError(parsed: RequestHead | HeadError): parsed is HeadError {
  return "status" in parsed;
}
