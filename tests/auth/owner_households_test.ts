/**
 * The administrator's `/owner/households` page on a real gateway server: it lists households and
 * meters, its form gives a meter to a household, and everyone else is refused without a change —
 * a household's session gets exactly the answer of a path that does not exist.
 *
 * @module
 */

import assert from "node:assert/strict";
import { setOwnerPassword } from "../../src/auth/owner.ts";
import { personPolicy } from "../../src/auth/read_policy.ts";
import { addHousehold, meterOwnership } from "../../src/store/households.ts";
import { setMeterName } from "../../src/store/meter_names.ts";
import { EventWrites } from "../../src/store/writes.ts";
import { ownerSession, postForm, startTestGateway, type TestGateway } from "./fixtures.ts";

/** The fixture's meter, and a second one this file adds. */
const FIRST = "0x00135003000a1b2c";
const SECOND = "0x00135003000a1b2d";
const FLAT_PASSWORD = "flat two passphrase";

/** A building: "Home" (1) with both meters, "Flat 2" (2) with none, and both signed in. */
async function building(gateway: TestGateway): Promise<{ admin: string; flat: string }> {
  new EventWrites(gateway.db).meterSeen(SECOND, "/dev/pts/8", null, Date.now(), Date.now());
  setMeterName(gateway.db, SECOND, "Garage <b>");
  const admin = await ownerSession(gateway);
  addHousehold(gateway.db, { name: "Flat 2", nowMs: Date.now() });
  await setOwnerPassword(gateway.db, FLAT_PASSWORD, Date.now(), {
    kind: "household",
    householdId: 2,
  });
  const login = await postForm(gateway, "/owner/login", {
    account: "Flat 2",
    password: FLAT_PASSWORD,
  });
  await login.body?.cancel();
  assert.equal(login.status, 303);
  return { admin, flat: login.headers.get("set-cookie")!.split(";")[0] };
}

/** Runs `test` on a fresh gateway set up as `building`, closing it afterwards. */
async function withBuilding(
  test: (gateway: TestGateway, cookies: { admin: string; flat: string }) => Promise<void>,
): Promise<void> {
  const gateway = await startTestGateway();
  try {
    await test(gateway, await building(gateway));
  } finally {
    await gateway.close();
  }
}

function owners(gateway: TestGateway): Record<string, number | null> {
  return Object.fromEntries(
    meterOwnership(gateway.db).map((meter) => [meter.meterKey, meter.householdId]),
  );
}

async function page(gateway: TestGateway, cookie: string): Promise<Response> {
  return await fetch(`${gateway.url}/owner/households`, {
    headers: { Cookie: cookie },
    redirect: "manual",
  });
}

Deno.test("single home: the administrator's home page links to the page, which lists the meter", async () => {
  const gateway = await startTestGateway();
  try {
    const admin = await ownerSession(gateway);
    const home = await fetch(`${gateway.url}/owner/authorizations`, { headers: { Cookie: admin } });
    assert.match(await home.text(), /<a href="\/owner\/households">Households and meters<\/a>/);
    const response = await page(gateway, admin);
    const html = await response.text();
    assert.equal(response.status, 200);
    assert.match(html, /This is a single home/);
    assert.match(html, /<td>1<\/td><td>Home<\/td><td>signs in with the administrator password/);
    assert.match(
      html,
      new RegExp(`<tr><td>${FIRST}</td><td></td><td>[\\w-]{16,}</td><td>Home</td>`),
    );
    assert.ok(!html.includes('<form method="post" action="/owner/households/assign"'));
    // Its one household owns every meter whatever is stored: there is nothing to assign.
    const assign = await postForm(gateway, "/owner/households/assign", {
      meter: FIRST,
      household: "",
    }, { Cookie: admin });
    assert.equal(assign.status, 409);
    assert.match(await assign.text(), /single home/);
    const stored = gateway.db.prepare("SELECT household_id AS id FROM meters").get() as {
      id: number | null;
    };
    assert.equal(stored.id, null, "nothing stored changed");

    const signedOut = await fetch(`${gateway.url}/owner/households`, { redirect: "manual" });
    await signedOut.body?.cancel();
    assert.equal(signedOut.status, 303);
    assert.equal(signedOut.headers.get("location"), "/owner/login?next=%2Fowner%2Fhouseholds");
  } finally {
    await gateway.close();
  }
});

Deno.test("building: the administrator gives a meter to a household and takes it back", async () => {
  await withBuilding(async (gateway, { admin }) => {
    const html = await (await page(gateway, admin)).text();
    assert.match(html, new RegExp(`<input type="hidden" name="meter" value="${FIRST}">`));
    assert.match(html, /<option value="1" selected>1 Home<\/option>/);
    assert.match(html, /<td>2<\/td><td>Flat 2<\/td><td>password set<\/td><td>off<\/td><td>0<\/td>/);
    assert.match(html, /Garage &lt;b&gt;/, "names are escaped");
    assert.ok(!html.includes("Garage <b>"));

    const assigned = await postForm(gateway, "/owner/households/assign", {
      meter: SECOND,
      household: "2",
    }, { Cookie: admin });
    await assigned.body?.cancel();
    assert.equal(assigned.status, 303);
    assert.equal(assigned.headers.get("location"), "/owner/households");
    assert.deepEqual(owners(gateway), { [FIRST]: 1, [SECOND]: 2 });
    assert.equal(personPolicy(gateway.db, 2).usagePointIds.size, 1, "Flat 2 reads it now");
    assert.match(
      await (await page(gateway, admin)).text(),
      /<option value="2" selected>2 Flat 2<\/option>/,
    );

    const byName = await postForm(gateway, "/owner/households/assign", {
      meter: SECOND,
      household: "home",
    }, { Cookie: admin });
    await byName.body?.cancel();
    assert.equal(byName.status, 303);
    const toNoOne = await postForm(gateway, "/owner/households/assign", {
      meter: FIRST,
      household: "",
    }, { Cookie: admin });
    await toNoOne.body?.cancel();
    assert.equal(toNoOne.status, 303);
    assert.deepEqual(owners(gateway), { [FIRST]: null, [SECOND]: 1 });
    assert.match(
      await (await page(gateway, admin)).text(),
      /<option value="" selected>\(no one\)<\/option>/,
    );
  });
});

Deno.test("a household's session gets exactly the 404 of a path that does not exist", async () => {
  await withBuilding(async (gateway, { flat }) => {
    const before = owners(gateway);
    const unknownGet = await fetch(`${gateway.url}/owner/no-such-page`, {
      headers: { Cookie: flat },
    });
    const unknownPost = await postForm(gateway, "/owner/no-such-page", {}, { Cookie: flat });
    const answers = [
      [unknownGet, await page(gateway, flat)],
      [
        unknownPost,
        await postForm(gateway, "/owner/households/assign", { meter: FIRST, household: "2" }, {
          Cookie: flat,
        }),
      ],
    ];
    const unknownBodies = new Map([[unknownGet, await unknownGet.text()], [
      unknownPost,
      await unknownPost.text(),
    ]]);
    for (const [unknown, mine] of answers) {
      assert.equal(mine.status, 404);
      assert.equal(mine.status, unknown.status);
      assert.equal(mine.headers.get("content-type"), unknown.headers.get("content-type"));
      assert.equal(await mine.text(), unknownBodies.get(unknown));
    }
    assert.deepEqual(owners(gateway), before, "nothing moved");
    const home = await fetch(`${gateway.url}/owner/authorizations`, { headers: { Cookie: flat } });
    assert.ok(!(await home.text()).includes("/owner/households"), "no link for a household");
  });
});

Deno.test("assign refuses a foreign Origin, no session, an unknown meter or household: nothing moves", async () => {
  await withBuilding(async (gateway, { admin }) => {
    const before = owners(gateway);
    const cases: [Record<string, string>, Record<string, string>, number, RegExp | null][] = [
      [
        { meter: FIRST, household: "2" },
        { Cookie: admin, Origin: "https://evil.example" },
        403,
        /own page/,
      ],
      [{ meter: FIRST, household: "2" }, {}, 303, null],
      [{ meter: "0x00135003000a9999", household: "2" }, { Cookie: admin }, 404, /No such meter\./],
      [{ meter: "", household: "2" }, { Cookie: admin }, 404, /No such meter\./],
      [{ meter: FIRST, household: "9" }, { Cookie: admin }, 404, /No such household\./],
      [{ meter: FIRST, household: "Flat 9" }, { Cookie: admin }, 404, /No such household\./],
    ];
    for (const [fields, headers, status, text] of cases) {
      const response = await postForm(gateway, "/owner/households/assign", fields, headers);
      const body = await response.text();
      assert.equal(response.status, status, JSON.stringify(fields));
      if (text !== null) assert.match(body, text);
    }
    const noSession = await postForm(gateway, "/owner/households/assign", {
      meter: FIRST,
      household: "2",
    });
    await noSession.body?.cancel();
    assert.equal(noSession.headers.get("location"), "/owner/login?next=%2Fowner%2Fhouseholds");
    assert.deepEqual(owners(gateway), before, "nothing moved");
  });
});
