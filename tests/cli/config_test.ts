import assert from "node:assert/strict";
import { loadServeConfig } from "../../src/config.ts";
import { UsageError } from "../../src/config/usage_error.ts";

const noFile = (path: string): string => {
  throw new Error(`no such file ${path}`);
};

Deno.test("serve defaults to one simulated meter at real speed", () => {
  const config = loadServeConfig([], { env: {}, readTextFile: noFile })!;
  assert.deepEqual(config.source, {
    kind: "simulate",
    meters: 1,
    speed: 1,
    solar: false,
    backfillHours: 0,
  });
  assert.equal(config.dbPath, "openseg.db");
  assert.equal(config.retentionHours, 48);
  assert.equal(config.intervalMinutes, 5);
  assert.deepEqual(config.listen, { hostname: "127.0.0.1", port: 8080 });
  assert.equal(config.tls, null);
  assert.equal(config.publicUrl, null);
  assert.equal(config.timeZone, Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC");
});

Deno.test("HTTP options: listen address, TLS files, public URL, time zone", () => {
  const config = loadServeConfig([
    "--listen",
    "[::1]:0",
    "--tls-cert",
    "c.pem",
    "--tls-key",
    "k.pem",
    "--public-url",
    "https://gw.example/base/",
    "--time-zone",
    "Europe/Zurich",
  ], { env: {} })!;
  assert.deepEqual(config.listen, { hostname: "::1", port: 0 });
  assert.deepEqual(config.tls, { certFile: "c.pem", keyFile: "k.pem" });
  assert.equal(config.publicUrl, "https://gw.example/base");
  assert.equal(config.timeZone, "Europe/Zurich");
});

Deno.test("several --serial flags give several ports", () => {
  const config = loadServeConfig(["--serial", "/dev/ttyUSB0", "--serial", "/dev/ttyACM0"], {
    env: {},
  })!;
  assert.deepEqual(config.source, { kind: "serial", paths: ["/dev/ttyUSB0", "/dev/ttyACM0"] });
});

Deno.test("flag beats environment beats config file", () => {
  const file = () => JSON.stringify({ db: "file.db", "retention-hours": 12, speed: 5 });
  const config = loadServeConfig(["--db", "flag.db"], {
    env: { OPENSEG_CONFIG: "c.json", OPENSEG_DB: "env.db", OPENSEG_RETENTION_HOURS: "24" },
    readTextFile: file,
  })!;
  assert.equal(config.dbPath, "flag.db");
  assert.equal(config.retentionHours, 24);
  assert.deepEqual(config.source, {
    kind: "simulate",
    meters: 1,
    speed: 5,
    solar: false,
    backfillHours: 0,
  });
});

Deno.test("OPENSEG_SERIAL takes a comma-separated list", () => {
  const config = loadServeConfig([], { env: { OPENSEG_SERIAL: "/dev/a, /dev/b" } })!;
  assert.deepEqual(config.source, { kind: "serial", paths: ["/dev/a", "/dev/b"] });
});

Deno.test("--help returns null", () => {
  assert.equal(loadServeConfig(["--help"], { env: {} }), null);
});

Deno.test("bad options and values give a one-line UsageError naming them", () => {
  const cases: [string[], Record<string, string>, RegExp][] = [
    [["--bogus"], {}, /bogus/],
    [["--speed", "fast"], {}, /--speed: 'fast' is not a number/],
    [["--meters", "0"], {}, /--meters: 0 is outside 1\.\.64/],
    [["--meters", "1.5"], {}, /--meters: '1.5' is not an integer/],
    [["--interval-minutes", "7"], {}, /--interval-minutes: 7 is not one of 1, 5, 15, 60/],
    [[], { OPENSEG_RETENTION_HOURS: "-3" }, /OPENSEG_RETENTION_HOURS: -3 is outside/],
    [[], { OPENSEG_SIMULATE: "maybe" }, /OPENSEG_SIMULATE: 'maybe' is not a boolean/],
    [["--serial", "/dev/x", "--simulate"], {}, /exclude each other/],
    [["extra"], {}, /unexpected argument 'extra'/],
    [["--config", "missing.json"], {}, /--config: cannot read 'missing.json'/],
    [["--listen", "8080"], {}, /--listen: '8080' is not HOST:PORT/],
    [["--listen", "host:70000"], {}, /--listen: 'host:70000' is not HOST:PORT/],
    [["--tls-cert", "c.pem"], {}, /--tls-cert and --tls-key go together/],
    [["--public-url", "ftp://x"], {}, /--public-url: 'ftp:\/\/x' must be http/],
    [["--time-zone", "Mars/Olympus"], {}, /--time-zone: 'Mars\/Olympus' is not an IANA/],
  ];
  for (const [args, env, pattern] of cases) {
    assert.throws(
      () => loadServeConfig(args, { env, readTextFile: noFile }),
      (error: unknown) => {
        assert.ok(error instanceof UsageError, `${args.join(" ")}: ${error}`);
        assert.match(error.message, pattern);
        assert.ok(!error.message.includes("\n"), "one line");
        return true;
      },
    );
  }
});

Deno.test("a config file that is not a JSON object is refused", () => {
  for (const text of ["{", "[1]", "42"]) {
    assert.throws(
      () => loadServeConfig(["--config", "c.json"], { env: {}, readTextFile: () => text }),
      UsageError,
    );
  }
  assert.throws(
    () =>
      loadServeConfig(["--config", "c.json"], {
        env: {},
        readTextFile: () => JSON.stringify({ serial: "/dev/x" }),
      }),
    /must be a list of strings/,
  );
});
