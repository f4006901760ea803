/**
 * Writes a Web `Response` to an HTTP/1.1 connection (RFC 9112 §4, §6): the status line, the
 * handler's header fields with the framing ones (`Content-Length`, `Transfer-Encoding`,
 * `Connection`) set here and only here, and the body. A body is sent whole with its length, in one
 * write with the head when small; server-sent events and multipart streams are sent chunked as
 * each piece comes, since they may never end.
 *
 * @module
 */

const REASONS: Record<number, string> = {
  100: "Continue",
  101: "Switching Protocols",
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  417: "Expectation Failed",
  421: "Misdirected Request",
  422: "Unprocessable Content",
  428: "Precondition Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};

/** What HTTP/1.1 allows in a field value (RFC 9110 §5.5): visible ASCII, SP, HTAB, obs-text. */
const VALID_FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** Framing is this layer's: a handler's value for these is never sent. */
const FRAMING = new Set(["content-length", "transfer-encoding", "connection", "keep-alive"]);
/** Bodies smaller than this go out in the same write as the head. */
const SAME_WRITE_BYTES = 16 * 1024;
const encoder = new TextEncoder();
const LAST_CHUNK = encoder.encode("0\r\n\r\n");

/** How every response's head is completed; the same for all responses of a server. */
export interface HeadPolicy {
  /** Added unless the response has its own value; names in lower case. */
  defaults: readonly [string, string][];
  /** Told when a handler built a header value that cannot be sent; a 500 goes out instead. */
  onInvalidHeader: (name: string) => void;
}

export interface WriteOptions {
  policy: HeadPolicy;
  /** A HEAD request: the head only. */
  head: boolean;
  /** HTTP/1.0 clients get no chunked coding: a stream then ends with the connection. */
  minorVersion: 0 | 1;
  /** False: say `Connection: close` (the connection closes after this response). */
  keepAlive: boolean;
  /** The `Date` value (`imf-fixdate`). */
  date: string;
  /** Resolves when the client is gone: a stream being sent stops. */
  clientGone: Promise<void>;
  /** Called after every write (the connection's idle clock). */
  onBytes: () => void;
}

/** True for bodies that may never end: sent chunked as they come. */
export function isStreamed(response: Response): boolean {
  const type = response.headers.get("content-type") ?? "";
  return type.startsWith("text/event-stream") || type.startsWith("multipart/");
}

/** Writes `bytes` whole (a socket write may take only part). */
async function writeAll(conn: Deno.Conn, bytes: Uint8Array, onBytes: () => void): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
  onBytes();
}

/** `HTTP/1.1 <status> <reason>` and its line end. */
function statusLine(status: number): string {
  return `HTTP/1.1 ${status} ${REASONS[status] ?? "Status"}\r\n`;
}

/** The field lines of `headers` with the policy's defaults, or null when a value is unsendable. */
function fieldLines(headers: Headers, date: string, policy: HeadPolicy): string | null {
  let lines = "";
  for (const [name, value] of headers) {
    if (FRAMING.has(name)) continue;
    if (!VALID_FIELD_VALUE.test(value)) {
      policy.onInvalidHeader(name);
      return null;
    }
    lines += `${name}: ${value}\r\n`;
  }
  for (const [name, value] of policy.defaults) {
    if (!headers.has(name)) lines += `${name}: ${value}\r\n`;
  }
  return `${lines}date: ${date}\r\n`;
}

const UNSENDABLE = () =>
  Response.json({ error: "server_error", error_description: "internal error" }, { status: 500 });

/** `100 Continue`, before the body of a request that expects it is read. */
export function writeContinue(conn: Deno.Conn, onBytes: () => void): Promise<void> {
  return writeAll(conn, encoder.encode("HTTP/1.1 100 Continue\r\n\r\n"), onBytes);
}

/**
 * Writes `response`; resolves true when it was sent whole and the connection may serve another
 * request (false: close it).
 */
export async function writeResponse(
  conn: Deno.Conn,
  response: Response,
  options: WriteOptions,
): Promise<boolean> {
  let fields = fieldLines(response.headers, options.date, options.policy);
  if (fields === null) {
    await response.body?.cancel().catch(() => {});
    response = UNSENDABLE();
    fields = fieldLines(response.headers, options.date, options.policy)!;
  }
  const status = response.status;
  const bodiless = options.head || status === 204 || status === 304 || status < 200;
  let keepAlive = options.keepAlive;
  let head = statusLine(status) + fields;

  if (bodiless) {
    await response.body?.cancel().catch(() => {});
    if (options.head && response.headers.has("content-length")) {
      head += `content-length: ${response.headers.get("content-length")}\r\n`;
    }
    head += keepAlive ? "\r\n" : "connection: close\r\n\r\n";
    await writeAll(conn, encoder.encode(head), options.onBytes);
    return keepAlive;
  }

  if (response.body !== null && isStreamed(response)) {
    const chunked = options.minorVersion === 1;
    if (!chunked) keepAlive = false;
    head += chunked ? "transfer-encoding: chunked\r\n" : "";
    head += keepAlive ? "\r\n" : "connection: close\r\n\r\n";
    await writeAll(conn, encoder.encode(head), options.onBytes);
    const sent = await streamBody(conn, response.body, chunked, options);
    return sent && keepAlive;
  }

  const body = response.body === null ? new Uint8Array(0) : await response.bytes();
  head += `content-length: ${body.length}\r\n`;
  head += keepAlive ? "\r\n" : "connection: close\r\n\r\n";
  const headBytes = encoder.encode(head);
  if (body.length < SAME_WRITE_BYTES) {
    const whole = new Uint8Array(headBytes.length + body.length);
    whole.set(headBytes);
    whole.set(body, headBytes.length);
    await writeAll(conn, whole, options.onBytes);
  } else {
    await writeAll(conn, headBytes, options.onBytes);
    await writeAll(conn, body, options.onBytes);
  }
  return keepAlive;
}

const GONE = Symbol("gone");

/** Sends each piece of `body` as it comes, until it ends or the client goes; true when it ended. */
async function streamBody(
  conn: Deno.Conn,
  body: ReadableStream<Uint8Array>,
  chunked: boolean,
  options: WriteOptions,
): Promise<boolean> {
  const reader = body.getReader();
  const gone: Promise<typeof GONE> = options.clientGone.then(() => GONE);
  try {
    while (true) {
      const next: ReadableStreamReadResult<Uint8Array> | typeof GONE = await Promise.race([
        reader.read(),
        gone,
      ]);
      if (typeof next === "symbol") return false;
      if (next.done) break;
      const piece = next.value;
      if (piece.length === 0) continue;
      if (!chunked) {
        await writeAll(conn, piece, options.onBytes);
        continue;
      }
      const size = encoder.encode(`${piece.length.toString(16)}\r\n`);
      const framed = new Uint8Array(size.length + piece.length + 2);
      framed.set(size);
      framed.set(piece, size.length);
      framed[framed.length - 2] = 13;
      framed[framed.length - 1] = 10;
      await writeAll(conn, framed, options.onBytes);
    }
    if (chunked) await writeAll(conn, LAST_CHUNK, options.onBytes);
    return true;
  } finally {
    // The source learns the client is gone (a subscription ends); a no-op after the end.
    reader.cancel().catch(() => {});
  }
}
