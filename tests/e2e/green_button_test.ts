/**
 * The Green Button Connect My Data flow exactly as a third party runs it against a real gateway
 * process: `openseg serve` on a simulated meter (real pty + libserialport path), the owner sets a
 * password with `openseg admin set-password`, the app is registered with `openseg apps add`, the
 * owner logs in and approves on the consent page, the app swaps the code for tokens, pulls the
 * ESPI feed (validated with xmllint against the ESPI 4.0 schema), refreshes, and is revoked.
 *
 * @module
 */

import assert from "node:assert/strict";
import { consentFields } from "../auth/fixtures.ts";
import { xmllint } from "../espi/fixtures.ts";
import { startGateway } from "./helpers.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const PERMISSIONS = [
  "--allow-ffi",
  "--allow-env",
  "--allow-read",
  "--allow-write",
  "--allow-net=127.0.0.1",
];
const REDIRECT_URI = "https://energy-coach.example/callback";
const PASSWORD = "a long owner passphrase";
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

async function openseg(args: string[], stdin?: string): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, MAIN, ...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  assert.equal(code, 0, `openseg ${args.join(" ")}: ${text(stderr)}`);
  return text(stdout);
}

/** Starts `serve` on a simulated meter with 6 h of backfill. */
function startServe(dbPath: string) {
  return startGateway([
    "--simulate",
    "--backfill-hours",
    "6",
    "--db",
    dbPath,
    "--time-zone",
    "America/New_York",
  ]);
}

async function validateEspi(xml: string): Promise<{ code: number; output: string }> {
  const file = await Deno.makeTempFile({ suffix: ".xml" });
  await Deno.writeTextFile(file, xml);
  try {
    return await xmllint([file]);
  } finally {
    await Deno.remove(file);
  }
}

Deno.test("third party: register → owner approves → token → ESPI feed → refresh → revoke → 401", async () => {
  const dir = await Deno.makeTempDir({ prefix: "openseg-gb-" });
  const dbPath = `${dir}/gateway.db`;
  const serve = await startServe(dbPath);
  try {
    await openseg(["admin", "set-password", "--db", dbPath], `${PASSWORD}\n`);
    const app = JSON.parse(
      await openseg([
        "apps",
        "add",
        "--db",
        dbPath,
        "--name",
        "Energy Coach",
        "--redirect-uri",
        REDIRECT_URI,
        "--json",
      ]),
    );
    const basic = `Basic ${btoa(`${app.client_id}:${app.client_secret}`)}`;

    // Wait until the simulated meter has backfilled some hours.
    for (let tries = 0;; tries++) {
      const health = await fetch(`${serve.url}/health`);
      await health.body?.cancel();
      const status = JSON.parse(
        await openseg(["status", "--db", dbPath, "--json"]),
      );
      if (status[0]?.rows?.intervals >= 24) break;
      assert.ok(
        tries < 60,
        `the simulated meter never filled a few hours: ${JSON.stringify(status)}`,
      );
      await new Promise((resolve) => setTimeout(resolve, 500));
    }

    // The owner logs in through the real form…
    const login = await fetch(`${serve.url}/owner/login`, {
      method: "POST",
      redirect: "manual",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Origin: serve.url },
      body: new URLSearchParams({ password: PASSWORD }),
    });
    await login.body?.cancel();
    assert.equal(login.status, 303);
    const cookie = login.headers.get("set-cookie")!.split(";")[0];

    // …sees the consent page for the app's request and approves it.
    const scope =
      "FB=1_3_4_5_13_14_39;IntervalDuration=900;BlockDuration=daily;HistoryLength=86400";
    const params = new URLSearchParams({
      response_type: "code",
      client_id: app.client_id,
      redirect_uri: REDIRECT_URI,
      scope,
      state: "s-42",
    });
    const consent = await fetch(`${serve.url}/oauth/authorize?${params}`, {
      headers: { Cookie: cookie },
    });
    const html = await consent.text();
    assert.equal(consent.status, 200, html);
    assert.match(html, /Energy Coach/);
    const approved = await fetch(`${serve.url}/oauth/authorize`, {
      method: "POST",
      redirect: "manual",
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        Origin: serve.url,
        Cookie: cookie,
      },
      body: new URLSearchParams([...consentFields(html), ["decision", "approve"]]),
    });
    await approved.body?.cancel();
    const callback = new URL(approved.headers.get("location")!);
    assert.equal(`${callback.origin}${callback.pathname}`, REDIRECT_URI);
    assert.equal(callback.searchParams.get("state"), "s-42");

    // The app swaps the code for tokens (client authenticated with HTTP Basic).
    const exchange = async (fields: Record<string, string>) => {
      const response = await fetch(`${serve.url}/oauth/token`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded", Authorization: basic },
        body: new URLSearchParams(fields),
      });
      return { status: response.status, body: await response.json() };
    };
    const tokens = await exchange({
      grant_type: "authorization_code",
      code: callback.searchParams.get("code")!,
      redirect_uri: REDIRECT_URI,
    });
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));

    // The feed: a valid ESPI document with 15-minute readings (the granted resolution).
    const feedOf = (token: string) =>
      fetch(tokens.body.resourceURI, { headers: { Authorization: `Bearer ${token}` } });
    const feed = await feedOf(tokens.body.access_token);
    const xml = await feed.text();
    assert.equal(feed.status, 200, xml);
    assert.match(feed.headers.get("content-type")!, /application\/atom\+xml/);
    const validation = await validateEspi(xml);
    assert.equal(validation.code, 0, validation.output);
    const durations = [...xml.matchAll(/<(?:espi:)?duration>(\d+)</g)].map((m) => Number(m[1]));
    assert.ok(durations.includes(900), "15-minute interval readings");
    assert.ok(!durations.some((d) => d < 900), "nothing finer than the grant");
    assert.ok(!/0x00135001/.test(xml), "no meter MAC in the feed");

    // Refresh rotates: the old access token stops working, the new one reads the feed.
    const refreshed = await exchange({
      grant_type: "refresh_token",
      refresh_token: tokens.body.refresh_token,
    });
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    const old = await feedOf(tokens.body.access_token);
    await old.body?.cancel();
    assert.equal(old.status, 401);
    const fresh = await feedOf(refreshed.body.access_token);
    await fresh.body?.cancel();
    assert.equal(fresh.status, 200);

    // Revocation (RFC 7009) ends it: 401 with a Bearer challenge.
    const revoke = await fetch(`${serve.url}/oauth/revoke`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Authorization: basic },
      body: new URLSearchParams({ token: refreshed.body.refresh_token }),
    });
    await revoke.body?.cancel();
    assert.equal(revoke.status, 200);
    const denied = await feedOf(refreshed.body.access_token);
    await denied.body?.cancel();
    assert.equal(denied.status, 401);
    assert.match(denied.headers.get("www-authenticate") ?? "", /Bearer/);
  } finally {
    serve.child.kill("SIGTERM");
    await serve.child.status;
    await serve.drained;
    await Deno.remove(dir, { recursive: true });
  }
});
