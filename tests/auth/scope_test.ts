import assert from "node:assert/strict";
import {
  describeScope,
  formatScope,
  parseScope,
  ScopeError,
  scopeWithin,
} from "../../src/auth/scope.ts";

Deno.test("valid ESPI scopes parse into EspiScope", () => {
  const cases: [string, Omit<ReturnType<typeof parseScope>, "text">][] = [
    [
      "FB=1_3_4_5_13_14_39;IntervalDuration=900;BlockDuration=daily;HistoryLength=172800",
      {
        functionBlocks: [1, 3, 4, 5, 13, 14, 39],
        intervalDurationS: 900,
        blockDuration: "daily",
        historyLengthS: 172800,
      },
    ],
    [
      "FB=4_5_15",
      {
        functionBlocks: [4, 5, 15],
        intervalDurationS: null,
        blockDuration: null,
        historyLengthS: null,
      },
    ],
    // As a real CMD client sends it: spaces, capitals, several intervals, extra keys, trailing ';'.
    [
      "FB=1_3_4_5_8_13_18_19_31_34_35_39;IntervalDuration=900_3600;BlockDuration=Daily; " +
      "HistoryLength= 34128000;SubscriptionFrequency=Daily; AccountCollection=5;BR=1;",
      {
        functionBlocks: [1, 3, 4, 5, 8, 13, 18, 19, 31, 34, 35, 39],
        intervalDurationS: 900,
        blockDuration: "daily",
        historyLengthS: 34128000,
      },
    ],
    [
      "FB=39_1_1;BlockDuration=MONTHLY",
      {
        functionBlocks: [1, 39],
        intervalDurationS: null,
        blockDuration: "monthly",
        historyLengthS: null,
      },
    ],
  ];
  for (const [text, expected] of cases) {
    const { text: kept, ...parsed } = parseScope(text);
    assert.deepEqual(parsed, expected, text);
    assert.equal(kept, text.trim());
  }
});

Deno.test("malformed scopes are rejected with a reason", () => {
  const cases: [string, RegExp][] = [
    ["", /Key=Value|FB/],
    ["IntervalDuration=900", /needs FB/],
    ["FB=", /no value/],
    ["FB=1_x", /not a number list/],
    ["FB=1__3", /not a number list/],
    ["FB=0", /does not exist/],
    ["FB=1937", /does not exist/],
    ["FB=1;FB=2", /twice/],
    ["FB=1;Colour=blue", /unknown scope key/],
    ["FB=1;IntervalDuration=-900", /not a number list/],
    ["FB=1;IntervalDuration=0", /> 0/],
    ["FB=1;BlockDuration=fortnightly", /not known/],
    ["FB=1;HistoryLength=1_2", /one number/],
    ["FB=1;;IntervalDuration=900", /Key=Value/],
    ["FB=1;BR=<script>", /malformed/],
    ["FB=1 IntervalDuration=900", /not a number list/],
    ["FB=" + "1_".repeat(600) + "1", /too long/],
  ];
  for (const [text, pattern] of cases) {
    assert.throws(() => parseScope(text), (error: unknown) => {
      assert.ok(error instanceof ScopeError, text);
      assert.match(error.message, pattern, text);
      return true;
    });
  }
});

Deno.test("formatScope writes the canonical form that parses back", () => {
  const scope = parseScope("FB=4_1;BlockDuration=Daily;IntervalDuration=3600_900");
  const text = formatScope(scope);
  assert.equal(text, "FB=1_4;IntervalDuration=900;BlockDuration=daily");
  assert.deepEqual({ ...parseScope(text), text: "" }, { ...scope, text: "" });
});

Deno.test("scopeWithin: fewer blocks, coarser intervals and shorter history only", () => {
  const allowed = parseScope("FB=1_4_5;IntervalDuration=900;HistoryLength=172800");
  const within = (text: string) => scopeWithin(parseScope(text), allowed);
  assert.ok(within("FB=1_4;IntervalDuration=3600;HistoryLength=86400"));
  assert.ok(within("FB=1_4_5;IntervalDuration=900;HistoryLength=172800"));
  assert.ok(!within("FB=1_4_12;IntervalDuration=900;HistoryLength=172800"), "extra block");
  assert.ok(!within("FB=1;IntervalDuration=300;HistoryLength=172800"), "finer interval");
  assert.ok(!within("FB=1;IntervalDuration=900;HistoryLength=999999"), "longer history");
  assert.ok(!within("FB=1;HistoryLength=172800"), "unbounded interval");
  assert.ok(!within("FB=1;IntervalDuration=900"), "unbounded history");
});

Deno.test("describeScope says what, how far back and how fine in plain words", () => {
  const lines = describeScope(
    parseScope("FB=1_3_4_5_13_14_39;IntervalDuration=900;BlockDuration=daily;HistoryLength=172800"),
  );
  assert.match(lines[0], /^Which data: .*electricity use per time interval/);
  assert.equal(lines[1], "How far back: up to 2 days.");
  assert.equal(lines[2], "How fine-grained: readings no finer than every 15 minutes.");
  assert.equal(lines[3], "Delivered in daily blocks.");
  assert.deepEqual(describeScope(parseScope("FB=4")).slice(1), [
    "How far back: everything this gateway keeps.",
    "How fine-grained: the finest readings this gateway has.",
  ]);
});

Deno.test("parseScope: a text parsed again is the same frozen scope; a malformed one throws every time", () => {
  const text = "FB=1_3_4_5_13_14_39;IntervalDuration=900;BlockDuration=daily;HistoryLength=86400";
  const first = parseScope(text);
  assert.equal(parseScope(text), first);
  assert.ok(Object.isFrozen(first) && Object.isFrozen(first.functionBlocks));
  // Shared by every caller: none may change it for the others.
  assert.throws(() => (first.functionBlocks as number[]).push(2), TypeError);
  assert.deepEqual(parseScope(text).functionBlocks, [1, 3, 4, 5, 13, 14, 39]);
  for (let i = 0; i < 2; i++) assert.throws(() => parseScope("FB=1;FB=2"), ScopeError);
});
