/**
 * Reading request bodies safely: form and JSON parsers that check the content type and turn
 * malformed input into a 4xx `HttpError` instead of an exception. Size is already bounded by the
 * server (`maxBodyBytes`).
 *
 * @module
 */

import { HttpError } from "./errors.ts";

/**
 * More fields than any of our forms has (the consent form: a few plus one checkbox per meter);
 * a 64 KB body of one-byte fields would otherwise be ~20 000 entries every handler walks.
 */
export const MAX_FORM_FIELDS = 256;

export interface ReadFormOptions {
  /** Parameters that may repeat (e.g. a group of checkboxes). */
  repeatable?: string[];
}

/**
 * Each request's form as first parsed (or its refusal): the rate-limit guard reads the form for the
 * account and the handler reads it again, and a body can be read only once.
 */
const parsedForms = new WeakMap<Request, Promise<URLSearchParams>>();

/**
 * Parses an `application/x-www-form-urlencoded` body; other repeated parameters are refused. A
 * second read of the same request gets the same form (or the same error) without reading again.
 */
export async function readForm(
  request: Request,
  options: ReadFormOptions = {},
): Promise<URLSearchParams> {
  let parsed = parsedForms.get(request);
  if (parsed === undefined) {
    parsed = parseForm(request);
    parsedForms.set(request, parsed);
  }
  const form = await parsed;
  const repeated = repeatedKey(form, options.repeatable ?? []);
  if (repeated !== null) {
    throw new HttpError(400, "invalid_request", `'${repeated}' appears more than once`);
  }
  return form;
}

/**
 * The first parameter that appears more than once and may not, or null (RFC 6749 §3.1:
 * parameters must not be included more than once).
 */
export function repeatedKey(params: URLSearchParams, repeatable: string[] = []): string | null {
  const seen = new Set<string>();
  for (const key of params.keys()) {
    if (seen.has(key) && !repeatable.includes(key)) return key;
    seen.add(key);
  }
  return null;
}

/** Parses a JSON body. */
export async function readJson(request: Request): Promise<unknown> {
  if (mediaType(request) !== "application/json") {
    throw new HttpError(415, "invalid_request", "expected Content-Type application/json");
  }
  const text = await readText(request);
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, "invalid_request", "the body is not valid JSON");
  }
}

async function parseForm(request: Request): Promise<URLSearchParams> {
  if (mediaType(request) !== "application/x-www-form-urlencoded") {
    throw new HttpError(
      415,
      "invalid_request",
      "expected Content-Type application/x-www-form-urlencoded",
    );
  }
  const form = new URLSearchParams(await readText(request));
  if (form.size > MAX_FORM_FIELDS) {
    throw new HttpError(413, "payload_too_large", `more than ${MAX_FORM_FIELDS} form fields`);
  }
  return form;
}

function mediaType(request: Request): string {
  return (request.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
}

async function readText(request: Request): Promise<string> {
  const bytes = new Uint8Array(await request.arrayBuffer());
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new HttpError(400, "invalid_request", "the body is not valid UTF-8");
  }
}
