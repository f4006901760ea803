import assert from "node:assert/strict";
import { checkOwnerPassword } from "../../src/auth/owner.ts";
import { findToken } from "../../src/auth/tokens.ts";
import { clientSecretMatches, findApp } from "../../src/auth/apps.ts";
import { openDatabase } from "../../src/store/db.ts";
import { openseg, withDbPath } from "./run_openseg.ts";

Deno.test("openseg admin set-password reads the password from stdin", async () => {
  await withDbPath(async (path) => {
    const set = await openseg(["admin", "set-password", "--db", path], "a long passphrase\n");
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /owner password set/);
    const db = openDatabase(path);
    try {
      assert.ok(await checkOwnerPassword(db, "a long passphrase"));
    } finally {
      db.close();
    }
    const short = await openseg(["admin", "set-password", "--db", path], "short\n");
    assert.equal(short.code, 1);
    assert.match(short.stderr, /at least 10 characters/);
    const empty = await openseg(["admin", "set-password", "--db", path], "");
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /no password on stdin/);
    const bogus = await openseg(["admin", "frobnicate"]);
    assert.equal(bogus.code, 2);
  });
});

Deno.test("openseg apps add --json prints the credentials once; list and remove", async () => {
  await withDbPath(async (path) => {
    const add = await openseg([
      "apps",
      "add",
      "--db",
      path,
      "--name",
      "Energy Coach",
      "--redirect-uri",
      "https://coach.example/cb",
      "--scope",
      "FB=1_4_5;IntervalDuration=3600;HistoryLength=86400",
      "--json",
    ]);
    assert.equal(add.code, 0, add.stderr);
    const app = JSON.parse(add.stdout);
    assert.match(app.client_id, /^[A-Za-z0-9_-]{22}$/);
    assert.match(app.client_secret, /^[A-Za-z0-9_-]{43}$/);
    assert.match(app.registration_access_token, /^[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(app.scope, ["FB=1_4_5;IntervalDuration=3600;HistoryLength=86400"]);
    assert.equal(app.token_endpoint_auth_method, "client_secret_basic");

    const phone = JSON.parse(
      (await openseg([
        "apps",
        "add",
        "--db",
        path,
        "--name",
        "Phone",
        "--redirect-uri",
        "com.example.phone:/cb",
        "--public",
        "--json",
      ])).stdout,
    );
    assert.equal(phone.client_secret, null);
    assert.equal(phone.token_endpoint_auth_method, "none");

    const db = openDatabase(path);
    try {
      assert.equal(findApp(db, app.client_id)?.name, "Energy Coach");
      assert.ok(clientSecretMatches(db, app.client_id, app.client_secret));
      assert.equal(findToken(db, app.registration_access_token, Date.now())?.kind, "registration");
    } finally {
      db.close();
    }

    const list = await openseg(["apps", "list", "--db", path]);
    assert.match(list.stdout, /Energy Coach/);
    assert.match(list.stdout, /Phone \(public\)/);
    assert.ok(!list.stdout.includes(app.client_secret), "secrets are never shown again");

    const remove = await openseg(["apps", "remove", "--db", path, app.client_id]);
    assert.equal(remove.code, 0, remove.stderr);
    const again = await openseg(["apps", "remove", "--db", path, app.client_id]);
    assert.equal(again.code, 1);
  });
});

Deno.test("openseg apps add refuses bad input with exit code 2", async () => {
  await withDbPath(async (path) => {
    const cases: [string[], RegExp][] = [
      [["--redirect-uri", "https://a.example/cb"], /--name is required/],
      [["--name", "A"], /--redirect-uri is required/],
      [["--name", "A", "--redirect-uri", "http://a.example/cb"], /must be https/],
      [["--name", "A", "--redirect-uri", "https://a.example/cb#x"], /fragment/],
      [["--name", "A", "--redirect-uri", "https://a.example/cb", "--scope", "FB=x"], /scope/],
    ];
    for (const [args, pattern] of cases) {
      const result = await openseg(["apps", "add", "--db", path, ...args]);
      assert.equal(result.code, 2, args.join(" "));
      assert.match(result.stderr, pattern, args.join(" "));
    }
  });
});
