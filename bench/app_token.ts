/**
 * An app's access token from a running gateway process, obtained the way a real app gets one:
 * the owner's password and the app are set with the CLI, the owner signs in through the login
 * form and approves the consent page, the app redeems the code at `/oauth/token`. Black-box (HTTP
 * and CLI only), so benchmarks measure whatever the `serve` process does.
 *
 * @module
 */

import { basic, consentFields } from "../tests/auth/fixtures.ts";
import { freePort, openseg, startServe } from "./gateway_process.ts";
import { loadLoginForm } from "../tests/auth/login_form.ts";

export const BENCH_OWNER_PASSWORD = "a long bench owner passphrase";
const REDIRECT_URI = "https://bench-app.example/callback";
/** The default app scope plus live demand (FB 6), so the app can query and subscribe to demand. */
export const BENCH_APP_SCOPE =
  "FB=1_3_4_5_6_12_13_14_15_16_39;IntervalDuration=900;BlockDuration=daily;HistoryLength=172800";

/** A registered confidential app. */
export interface BenchApp {
  clientId: string;
  clientSecret: string;
}

/** Sets the owner password and registers one app in `dbPath` with the CLI. */
export async function prepareOwnerAndApp(dbPath: string): Promise<BenchApp> {
  await openseg(["admin", "set-password", "--db", dbPath], `${BENCH_OWNER_PASSWORD}\n`);
  const options = { name: "Bench App", "redirect-uri": REDIRECT_URI, scope: BENCH_APP_SCOPE };
  const app = JSON.parse(
    await openseg([
      "apps",
      "add",
      "--json",
      "--db",
      dbPath,
      ...Object.entries(options).flatMap(
        ([flag, value]) => [`--${flag}`, value],
      ),
    ]),
  );
  return { clientId: app.client_id, clientSecret: app.client_secret };
}

/** Signs in through the login form as the owner's browser does; returns the session cookie. */
export async function ownerCookie(url: string, password: string): Promise<string> {
  const form = await loadLoginForm(url);
  const response = await fetch(`${url}/owner/login`, {
    method: "POST",
    redirect: "manual",
    headers: form.headers,
    body: form.withPassword(password),
  });
  await response.body?.cancel();
  const cookie = response.headers.get("set-cookie")?.split(";")[0];
  if (response.status !== 303 || cookie === undefined) {
    throw new Error(`owner sign-in answered ${response.status} without a session cookie`);
  }
  return cookie;
}

/** The owner approves `app` on the consent page; the app redeems the code for an access token. */
export async function appAccessToken(url: string, app: BenchApp, cookie: string): Promise<string> {
  return (await appGrant(url, app, cookie)).accessToken;
}

/** What the token endpoint gives an app: its access token and its ESPI feed's URL. */
export interface AppGrant {
  accessToken: string;
  /** The `Batch/Subscription/{id}` URL of the grant (`resourceURI`). */
  resourceUri: string;
}

/** The owner approves `app` on the consent page; the app redeems the code. */
export async function appGrant(url: string, app: BenchApp, cookie: string): Promise<AppGrant> {
  const params = new URLSearchParams({
    response_type: "code",
    client_id: app.clientId,
    redirect_uri: REDIRECT_URI,
    scope: BENCH_APP_SCOPE,
    state: "bench",
  });
  const page = await fetch(`${url}/oauth/authorize?${params}`, { headers: { Cookie: cookie } });
  const html = await page.text();
  if (page.status !== 200) throw new Error(`consent page answered ${page.status}: ${html}`);
  const approved = await fetch(`${url}/oauth/authorize`, {
    method: "POST",
    redirect: "manual",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Origin: url, Cookie: cookie },
    body: new URLSearchParams([...consentFields(html), ["decision", "approve"]]),
  });
  await approved.body?.cancel();
  const code = new URL(approved.headers.get("location") ?? "about:blank").searchParams.get("code");
  if (code === null) throw new Error(`consent answered ${approved.status} without a code`);
  const tokens = await fetch(`${url}/oauth/token`, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      Authorization: basic(app.clientId, app.clientSecret),
    },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code,
      redirect_uri: REDIRECT_URI,
    }),
  });
  const body = await tokens.json();
  if (tokens.status !== 200) throw new Error(`token endpoint: ${JSON.stringify(body)}`);
  return { accessToken: body.access_token, resourceUri: body.resourceURI };
}

/** A simulated gateway with a 48 h backfill in a fresh directory, its owner and app prepared. */
export async function startBenchGateway(prefix: string): Promise<{
  dir: string;
  app: BenchApp;
  url: string;
  gateway: Deno.ChildProcess;
}> {
  const dir = await Deno.makeTempDir({ prefix });
  const dbPath = `${dir}/gateway.db`;
  const app = await prepareOwnerAndApp(dbPath);
  const port = freePort();
  const gateway = startServe({
    dbPath,
    listen: `127.0.0.1:${port}`,
    args: ["--simulate", "--backfill-hours", "48"],
  });
  return { dir, app, url: `http://127.0.0.1:${port}`, gateway };
}
