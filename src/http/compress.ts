/**
 * gzip for responses that gain from it: a 48-hour series (about 88 KB of JSON) travels as about
 * 10 KB. A pure function of the request and the handler's response, so it can sit on one route or
 * in the shared pipeline. Web-standard `CompressionStream`, streaming: nothing is buffered.
 *
 * Left alone: clients that do not accept gzip, bodies under `MIN_COMPRESS_BYTES` (the header costs
 * more than it saves), responses already encoded, types that are compressed already (images) and
 * `text/event-stream` (a compressor holds events back until its buffer fills). Sets
 * `Content-Encoding: gzip` and `Vary: Accept-Encoding`.
 *
 * @module
 */

/** Known-length bodies smaller than this are sent as they are. */
export const MIN_COMPRESS_BYTES = 1024;

const COMPRESSIBLE =
  /^(text\/|application\/(json|graphql-response\+json|javascript|xml|atom\+xml)$|image\/svg\+xml$)/;

/**
 * The response gzipped when `request` accepts it and the body is worth it; else `response`. A body
 * of unknown length is read up to `MIN_COMPRESS_BYTES` to find out.
 */
export async function compressResponse(request: Request, response: Response): Promise<Response> {
  if (response.body === null || response.headers.has("content-encoding")) return response;
  const type = response.headers.get("content-type")?.split(";")[0].trim().toLowerCase() ?? "";
  if (type === "text/event-stream" || !COMPRESSIBLE.test(type)) return response;
  const length = response.headers.get("content-length");
  if (length !== null && Number(length) < MIN_COMPRESS_BYTES) return response;
  const init = (headers: Headers) => ({
    status: response.status,
    statusText: response.statusText,
    headers,
  });
  const head = await readHead(response.body);
  if (head.done && head.bytes < MIN_COMPRESS_BYTES) {
    return new Response(concat(head.chunks, head.bytes), init(new Headers(response.headers)));
  }
  const headers = new Headers(response.headers);
  headers.append("Vary", "Accept-Encoding");
  if (!acceptsGzip(request.headers.get("accept-encoding"))) {
    return new Response(head.body, init(headers));
  }
  headers.set("Content-Encoding", "gzip");
  headers.delete("Content-Length");
  return new Response(head.body.pipeThrough(new CompressionStream("gzip")), init(headers));
}

interface Head {
  chunks: Uint8Array<ArrayBuffer>[];
  bytes: number;
  done: boolean;
  /** The whole body again: the chunks read, then the rest. */
  body: ReadableStream<Uint8Array<ArrayBuffer>>;
}

/** Reads chunks until `MIN_COMPRESS_BYTES` or the end. */
async function readHead(body: ReadableStream<Uint8Array<ArrayBuffer>>): Promise<Head> {
  const reader = body.getReader();
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  let bytes = 0;
  let done = false;
  while (bytes < MIN_COMPRESS_BYTES) {
    const next = await reader.read();
    if (next.done) {
      done = true;
      break;
    }
    chunks.push(next.value);
    bytes += next.value.byteLength;
  }
  const replay = [...chunks];
  const whole = new ReadableStream<Uint8Array<ArrayBuffer>>({
    async pull(controller) {
      const chunk = replay.shift();
      if (chunk !== undefined) return controller.enqueue(chunk);
      const next = done ? { done: true as const, value: undefined } : await reader.read();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return { chunks, bytes, done, body: whole };
}

function concat(chunks: Uint8Array<ArrayBuffer>[], bytes: number): Uint8Array<ArrayBuffer> {
  const all = new Uint8Array(bytes);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return all;
}

/** True when an `Accept-Encoding` value allows gzip (`gzip` or `*`, without `q=0`). */
export function acceptsGzip(acceptEncoding: string | null): boolean {
  if (acceptEncoding === null) return false;
  let gzip: number | null = null;
  let any: number | null = null;
  for (const part of acceptEncoding.split(",")) {
    const [coding, ...params] = part.trim().toLowerCase().split(";");
    const q = params.map((param) => param.trim()).find((param) => param.startsWith("q="));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    if (coding.trim() === "gzip") gzip = weight;
    else if (coding.trim() === "*") any = weight;
  }
  const weight = gzip ?? any ?? 0;
  return Number.isFinite(weight) && weight > 0;
}
