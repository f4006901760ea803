import assert from "node:assert/strict";
import {
  checkOwnerPassword,
  hashPassword,
  issueSetupCode,
  ownerHasPassword,
  setOwnerPassword,
  setupCodeMatches,
  verifyPassword,
} from "../../src/auth/owner.ts";
import { OWNER_PASSWORD, ownerSession, postForm, startTestGateway } from "./fixtures.ts";

Deno.test("passwords: scrypt with a random salt, verified, minimum length", async () => {
  const a = await hashPassword("correct horse battery");
  const b = await hashPassword("correct horse battery");
  assert.match(a, /^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
  assert.notEqual(a, b, "random salt");
  assert.ok(await verifyPassword("correct horse battery", a));
  assert.ok(!await verifyPassword("correct horse batterY", a));
  assert.ok(!await verifyPassword("x", "md5$whatever"));
  const gateway = await startTestGateway();
  try {
    assert.ok(!ownerHasPassword(gateway.db));
    assert.ok(!await checkOwnerPassword(gateway.db, ""), "no password set: nothing matches");
    await assert.rejects(() => setOwnerPassword(gateway.db, "short", 0), /at least 10/);
    await setOwnerPassword(gateway.db, OWNER_PASSWORD, 0);
    assert.ok(await checkOwnerPassword(gateway.db, OWNER_PASSWORD));
    assert.ok(!await checkOwnerPassword(gateway.db, "wrong password"));
    const row = gateway.db.prepare("SELECT password_hash FROM owner_account").get() as {
      password_hash: string;
    };
    assert.ok(!row.password_hash.includes(OWNER_PASSWORD));
  } finally {
    await gateway.close();
  }
});

Deno.test("first run: the one-time setup code sets the password at /owner/setup", async () => {
  const gateway = await startTestGateway();
  try {
    const code = issueSetupCode(gateway.db, Date.now())!;
    assert.match(code, /^[A-Z2-9]{10}$/);
    assert.ok(setupCodeMatches(gateway.db, code.toLowerCase(), Date.now()), "case-insensitive");
    const newer = issueSetupCode(gateway.db, Date.now())!;
    assert.ok(!setupCodeMatches(gateway.db, code, Date.now()) || code === newer, "replaced");

    const page = await fetch(`${gateway.url}/owner/setup`);
    assert.match(await page.text(), /Setup code/);
    const wrong = await postForm(gateway, "/owner/setup", {
      setup_code: "AAAAAAAAAA",
      password: OWNER_PASSWORD,
      password_again: OWNER_PASSWORD,
    });
    assert.equal(wrong.status, 401);
    await wrong.body?.cancel();
    const tooShort = await postForm(gateway, "/owner/setup", {
      setup_code: newer,
      password: "short",
      password_again: "short",
    });
    assert.equal(tooShort.status, 400);
    await tooShort.body?.cancel();
    const done = await postForm(gateway, "/owner/setup", {
      setup_code: newer,
      password: OWNER_PASSWORD,
      password_again: OWNER_PASSWORD,
    });
    await done.body?.cancel();
    assert.equal(done.status, 303);
    assert.match(done.headers.get("set-cookie") ?? "", /^openseg_session=/);
    assert.ok(await checkOwnerPassword(gateway.db, OWNER_PASSWORD));
    assert.ok(!setupCodeMatches(gateway.db, newer, Date.now()), "the code is single-use");
    assert.equal(issueSetupCode(gateway.db, Date.now()), null, "no code once a password exists");
  } finally {
    await gateway.close();
  }
});

Deno.test("login sets an HttpOnly SameSite=Strict session cookie; logout ends it", async () => {
  const gateway = await startTestGateway();
  try {
    await setOwnerPassword(gateway.db, OWNER_PASSWORD, Date.now());
    const response = await postForm(gateway, "/owner/login", {
      password: OWNER_PASSWORD,
      next: "/oauth/authorize?x=1",
    });
    await response.body?.cancel();
    assert.equal(response.status, 303);
    assert.equal(response.headers.get("location"), "/oauth/authorize?x=1");
    const cookie = response.headers.get("set-cookie")!;
    assert.match(cookie, /^openseg_session=[A-Za-z0-9_-]{43}; /);
    for (const flag of ["HttpOnly", "SameSite=Strict", "Path=/"]) assert.ok(cookie.includes(flag));
    assert.ok(!cookie.includes("Secure"), "no Secure without TLS");
    const sessionId = cookie.split(";")[0].split("=")[1];
    const stored = gateway.db.prepare("SELECT id_hash FROM owner_sessions").all() as {
      id_hash: string;
    }[];
    assert.equal(stored.length, 1);
    assert.notEqual(stored[0].id_hash, sessionId, "stored hashed");

    const home = await fetch(`${gateway.url}/owner/authorizations`, {
      headers: { Cookie: cookie.split(";")[0] },
    });
    assert.equal(home.status, 200);
    assert.match(await home.text(), /No app has access/);

    const logout = await postForm(gateway, "/owner/logout", {}, { Cookie: cookie.split(";")[0] });
    await logout.body?.cancel();
    assert.match(logout.headers.get("set-cookie") ?? "", /Max-Age=0/);
    const after = await fetch(`${gateway.url}/owner/authorizations`, {
      headers: { Cookie: cookie.split(";")[0] },
      redirect: "manual",
    });
    await after.body?.cancel();
    assert.equal(after.status, 303, "the old cookie no longer signs in");
  } finally {
    await gateway.close();
  }
});

Deno.test("login refuses foreign origins and open redirects", async () => {
  const gateway = await startTestGateway();
  try {
    await setOwnerPassword(gateway.db, OWNER_PASSWORD, Date.now());
    const foreign = await postForm(gateway, "/owner/login", { password: OWNER_PASSWORD }, {
      Origin: "https://evil.example",
    });
    await foreign.body?.cancel();
    assert.equal(foreign.status, 403);
    assert.equal(foreign.headers.get("set-cookie"), null);
    for (const next of ["//evil.example/x", "https://evil.example/", "/\\evil.example"]) {
      const response = await postForm(gateway, "/owner/login", { password: OWNER_PASSWORD, next });
      await response.body?.cancel();
      assert.equal(response.headers.get("location"), "/owner/authorizations", next);
    }
  } finally {
    await gateway.close();
  }
});

Deno.test("login brute force: the sixth attempt within a minute gets 429 with Retry-After", async () => {
  const gateway = await startTestGateway();
  try {
    await ownerSession(gateway);
    for (let i = 0; i < 5; i++) {
      const response = await postForm(gateway, "/owner/login", { password: `guess number ${i}` });
      await response.body?.cancel();
      assert.equal(response.status, 401);
    }
    const limited = await postForm(gateway, "/owner/login", { password: OWNER_PASSWORD });
    await limited.body?.cancel();
    assert.equal(limited.status, 429, "even the right password waits");
    assert.ok(Number(limited.headers.get("retry-after")) > 0);
    gateway.clock.offsetMs = 61_000;
    const later = await postForm(gateway, "/owner/login", { password: OWNER_PASSWORD });
    await later.body?.cancel();
    assert.equal(later.status, 303, "the window has passed");
  } finally {
    await gateway.close();
  }
});
