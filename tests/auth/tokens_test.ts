import assert from "node:assert/strict";
import { registerApp } from "../../src/auth/apps.ts";
import { hashesMatch, hashSecret, secretMatches } from "../../src/auth/secrets.ts";
import { findToken, mintToken, revokeToken } from "../../src/auth/tokens.ts";
import { openDatabase } from "../../src/store/db.ts";

async function withDb(test: (db: ReturnType<typeof openDatabase>, path: string) => void) {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/t.db`;
  const db = openDatabase(path);
  try {
    test(db, path);
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("tokens are 256-bit base64url and only their hashes are stored", async () => {
  await withDb((db, path) => {
    const nowMs = 1_000_000;
    const registered = registerApp(db, {
      name: "A",
      redirectUris: ["https://a.example/cb"],
      nowMs,
    });
    const minted = mintToken(db, {
      kind: "client",
      clientId: registered.app.clientId,
      expiresInS: 60,
      nowMs,
    });
    assert.match(minted.token, /^[A-Za-z0-9_-]{43}$/, "32 random bytes, base64url");
    assert.equal(minted.expiresAtMs, nowMs + 60_000);
    const secrets = [minted.token, registered.clientSecret!, registered.registrationAccessToken];
    // Read the file as bytes: no table, index or WAL page holds a plaintext secret.
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    const bytes = new TextDecoder("latin1").decode(Deno.readFileSync(path));
    for (const secret of secrets) {
      assert.ok(!bytes.includes(secret), "plaintext secret in the database file");
      assert.ok(bytes.includes(hashSecret(secret)) || secret === registered.clientSecret);
    }
    const rows = db.prepare("SELECT * FROM oauth_tokens").all();
    for (const row of rows) {
      for (const value of Object.values(row)) assert.ok(!secrets.includes(String(value)));
    }
    const app = db.prepare("SELECT secret_hash FROM oauth_apps").get() as { secret_hash: string };
    assert.equal(app.secret_hash, hashSecret(registered.clientSecret!));
  });
});

Deno.test("a token is found until it expires or is revoked", async () => {
  await withDb((db) => {
    const { app } = registerApp(db, {
      name: "A",
      redirectUris: ["https://a.example/cb"],
      nowMs: 0,
    });
    const minted = mintToken(db, {
      kind: "client",
      clientId: app.clientId,
      expiresInS: 60,
      nowMs: 0,
    });
    assert.equal(findToken(db, minted.token, 59_999)?.tokenId, minted.tokenId);
    assert.equal(findToken(db, minted.token, 60_000), null, "expired");
    const lastChar = minted.token.at(-1) === "A" ? "B" : "A";
    assert.equal(findToken(db, minted.token.slice(0, -1) + lastChar, 0), null, "altered");
    assert.equal(findToken(db, "", 0), null);
    assert.equal(findToken(db, "x".repeat(10_000), 0), null);
    assert.ok(revokeToken(db, minted.tokenId, 1));
    assert.equal(findToken(db, minted.token, 2), null, "revoked");
    assert.ok(!revokeToken(db, minted.tokenId, 3), "revoking twice is a no-op");
  });
});

Deno.test("secrets are compared in constant time (timingSafeEqual), never with ===", async () => {
  assert.ok(hashesMatch("abc", "abc"));
  assert.ok(!hashesMatch("abc", "abd"));
  assert.ok(!hashesMatch("abc", "abcd"), "different lengths do not throw");
  assert.ok(secretMatches("s3cret", hashSecret("s3cret")));
  assert.ok(!secretMatches("s3cret", hashSecret("s3creT")));
  // The comparisons in the modules that accept secrets go through timingSafeEqual.
  const sources = ["secrets.ts", "owner.ts", "tokens.ts", "pkce.ts", "apps.ts"].map((name) =>
    Deno.readTextFile(new URL(`../../src/auth/${name}`, import.meta.url))
  );
  const [secrets, owner, tokens, pkce, apps] = await Promise.all(sources);
  assert.match(secrets, /timingSafeEqual\(left, right\)/);
  assert.match(owner, /timingSafeEqual\(key, expected\)/);
  assert.match(tokens, /hashesMatch\(tokenHash, row\.tokenHash\)/);
  assert.match(pkce, /hashesMatch\(/);
  assert.match(apps, /secretMatches\(secret, row\.hash\)/);
});
