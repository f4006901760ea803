/**
 * A login flood (issue 10, item 4), against a real gateway: concurrent wrong passwords from one
 * address must not all be tried (the attempt is reserved before hashing), and password hashing
 * runs a few at a time, refusing the overflow with 503 + Retry-After instead of queueing it.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  HASH_CONCURRENCY,
  HASH_QUEUE_MAX,
  HashingBusyError,
  withHashSlot,
} from "../../src/auth/hash_slots.ts";
import { hashPassword, verifyPassword } from "../../src/auth/owner.ts";
import { MAX_FAILURES } from "../../src/auth/rate_limit.ts";
import { OWNER_PASSWORD, ownerSession, postForm } from "../auth/fixtures.ts";
import { withGateway } from "../auth/flow_helpers.ts";

const CONCURRENT_GUESSES = 60;

Deno.test("60 concurrent wrong passwords from one address: only the limit is verified", async () => {
  await withGateway(async (gateway) => {
    await ownerSession(gateway);
    const responses = await Promise.all(
      Array.from({ length: CONCURRENT_GUESSES }, async (_, i) => {
        const response = await postForm(gateway, "/owner/login", { password: `guess ${i} wrong` });
        await response.body?.cancel();
        return { status: response.status, retryAfter: response.headers.get("retry-after") };
      }),
    );
    const byStatus = (status: number) => responses.filter((r) => r.status === status);
    // 401 is a verified wrong password: never more than the documented limit.
    assert.ok(byStatus(401).length <= MAX_FAILURES, `${byStatus(401).length} guesses verified`);
    const refused = [...byStatus(429), ...byStatus(503)];
    assert.equal(byStatus(401).length + refused.length, CONCURRENT_GUESSES);
    for (const response of refused) assert.ok(Number(response.retryAfter) > 0);

    const locked = await postForm(gateway, "/owner/login", { password: OWNER_PASSWORD });
    await locked.body?.cancel();
    assert.equal(locked.status, 429, "the right password waits out the lockout too");
    gateway.clock.offsetMs = 61_000;
    const later = await postForm(gateway, "/owner/login", { password: OWNER_PASSWORD });
    await later.body?.cancel();
    assert.equal(later.status, 303, "after the window the right password works");
  });
});

Deno.test("password hashing runs a few at a time and refuses the overflow at once", async () => {
  const stored = await hashPassword(OWNER_PASSWORD);
  const calls = HASH_CONCURRENCY + HASH_QUEUE_MAX + 4;
  const results = await Promise.allSettled(
    Array.from({ length: calls }, () => verifyPassword("wrong password!", stored)),
  );
  const refused = results.filter((r) => r.status === "rejected");
  assert.equal(refused.length, calls - HASH_CONCURRENCY - HASH_QUEUE_MAX);
  for (const result of refused) {
    assert.ok((result as PromiseRejectedResult).reason instanceof HashingBusyError);
  }
  // The slots are free again afterwards.
  assert.ok(await verifyPassword(OWNER_PASSWORD, stored));
});

Deno.test("a login while hashing is saturated gets 503 + Retry-After and costs no attempt", async () => {
  await withGateway(async (gateway) => {
    await ownerSession(gateway);
    // Hold every slot and queue place from elsewhere in the process until the answer is in.
    const { promise: held, resolve: release } = Promise.withResolvers<void>();
    const busy = Array.from(
      { length: HASH_CONCURRENCY + HASH_QUEUE_MAX },
      () => withHashSlot(() => held),
    );
    const response = await postForm(gateway, "/owner/login", { password: OWNER_PASSWORD });
    await response.body?.cancel();
    release();
    await Promise.all(busy);
    assert.equal(response.status, 503);
    assert.ok(Number(response.headers.get("retry-after")) > 0);
    const count = gateway.db.prepare("SELECT count(*) AS n FROM auth_failures").get() as {
      n: number;
    };
    assert.equal(count.n, 0, "the refused attempt was released");
    const retry = await postForm(gateway, "/owner/login", { password: OWNER_PASSWORD });
    await retry.body?.cancel();
    assert.equal(retry.status, 303);
  });
});
