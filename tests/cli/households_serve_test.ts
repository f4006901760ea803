/**
 * `openseg households` on the database of a running `openseg serve` (two simulated meters): the
 * setup codes it prints work on the gateway's own setup page, and an assignment shows in each
 * household's GraphQL `meters` at once, without a restart.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { startGateway, waitFor } from "../e2e/helpers.ts";
import { openseg } from "./run_openseg.ts";

function meterCount(path: string): number {
  try {
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      return (db.prepare("SELECT count(*) AS n FROM usage_points").get() as { n: number }).n;
    } finally {
      db.close();
    }
  } catch {
    return 0; // Not created or not migrated yet.
  }
}

/** Sets a password with a setup code on the gateway's setup page; returns the session cookie. */
async function setUp(url: string, code: string, password: string): Promise<string> {
  const response = await fetch(`${url}/owner/setup`, {
    method: "POST",
    redirect: "manual",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Origin: url },
    body: new URLSearchParams({ setup_code: code, password, password_again: password }),
  });
  const body = await response.text();
  assert.equal(response.status, 303, body);
  assert.equal(response.headers.get("location"), "/owner/authorizations", body);
  return response.headers.get("set-cookie")!.split(";")[0];
}

/** The ids of the meters GraphQL shows this session, sorted. */
async function meterIds(url: string, cookie: string): Promise<string[]> {
  const response = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Cookie: cookie, Origin: url },
    body: JSON.stringify({ query: "{ meters { id } }" }),
  });
  const body = await response.json();
  assert.equal(response.status, 200, JSON.stringify(body));
  return (body.data.meters as { id: string }[]).map((meter) => meter.id).sort();
}

Deno.test("households assign while serve runs: each household's GraphQL meters change at once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "openseg-households-" });
  const path = `${dir}/gateway.db`;
  const gateway = await startGateway(["--simulate", "--meters", "2", "--db", path]);
  try {
    await waitFor("two simulated meters", () => meterCount(path) === 2, 30_000);
    const add = await openseg(["households", "add", "Flat 2", "--db", path, "--json"]);
    assert.equal(add.code, 0, add.stderr);
    const added = JSON.parse(add.stdout);
    const [first, second] = added.becameMultiHousehold.meters as {
      meterKey: string;
      usagePointId: string;
    }[];
    assert.ok(first && second, add.stdout);

    const home = await setUp(gateway.url, added.becameMultiHousehold.setupCode, "home passphrase");
    const flat = await setUp(gateway.url, added.setupCode, "flat two passphrase");
    const both = [first.usagePointId, second.usagePointId].sort();
    assert.deepEqual(await meterIds(gateway.url, home), both, "Home kept both meters");
    assert.deepEqual(await meterIds(gateway.url, flat), [], "Flat 2 starts with none");

    const assign = await openseg(["households", "assign", "Flat 2", first.meterKey, "--db", path]);
    assert.equal(assign.code, 0, assign.stderr);
    assert.deepEqual(await meterIds(gateway.url, flat), [first.usagePointId]);
    assert.deepEqual(await meterIds(gateway.url, home), [second.usagePointId]);

    const unassign = await openseg(["households", "unassign", first.usagePointId, "--db", path]);
    assert.equal(unassign.code, 0, unassign.stderr);
    assert.deepEqual(await meterIds(gateway.url, flat), []);
    assert.deepEqual(await meterIds(gateway.url, home), [second.usagePointId]);

    // A re-key ends the household's session on the running gateway at once.
    const rekey = await openseg(["households", "re-key", "Flat 2", "--db", path]);
    assert.equal(rekey.code, 0, rekey.stderr);
    const ended = await fetch(`${gateway.url}/graphql`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Cookie: flat, Origin: gateway.url },
      body: JSON.stringify({ query: "{ meters { id } }" }),
    });
    await ended.body?.cancel();
    assert.equal(ended.status, 401);
  } finally {
    gateway.child.kill("SIGTERM");
    await gateway.child.status;
    await gateway.drained;
    await Deno.remove(dir, { recursive: true });
  }
});
