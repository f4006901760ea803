/**
 * Hostile: size limits beyond the body size. A 64 KB form of one-byte fields is ~20 000 entries;
 * the form parser now refuses more fields than any of our forms has.
 */

import assert from "node:assert/strict";
import { MAX_FORM_FIELDS, readForm } from "../../src/http/body.ts";
import type { HttpError } from "../../src/http/errors.ts";

Deno.test("a form with thousands of tiny fields is refused before any handler walks it", async () => {
  const request = new Request("http://127.0.0.1/owner/login", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: Array.from({ length: MAX_FORM_FIELDS + 1 }, (_, i) => `f${i}=`).join("&"),
  });
  await assert.rejects(() => readForm(request), (error: HttpError) => error.status === 413);
  const fine = new Request("http://127.0.0.1/owner/login", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: "password=x&next=%2F",
  });
  assert.equal((await readForm(fine)).get("next"), "/");
});
