/**
 * RFC 4180 output: quoting of commas, quotes and line breaks, CRLF records, the byte order mark,
 * numbers as numbers, null as an empty field, and text a spreadsheet would run as a formula
 * defused.
 *
 * @module
 */

import assert from "node:assert/strict";
import { csvDocument, csvLine } from "../../src/export/csv.ts";

Deno.test("fields are quoted only when they must be, quotes doubled", () => {
  assert.equal(
    csvLine(["plain", 'say "hi"', "a,b", "two\r\nlines", "cr\r"]),
    [
      "plain",
      '"say ""hi"""',
      '"a,b"',
      '"two\r\nlines"',
      '"cr\r"',
    ].join(","),
  );
  assert.equal(csvLine([-12.5, 0, null, Number.NaN, 1e21]), "-12.5,0,,,1e+21");
});

Deno.test("text that would be a formula stays text; negative numbers stay numbers", () => {
  assert.equal(
    csvLine(['=HYPERLINK("x")', "+1", "-1", "@SUM(A1)", "\tx", -1]),
    `"'=HYPERLINK(""x"")",'+1,'-1,'@SUM(A1),'\tx,-1`,
  );
});

Deno.test("a document: byte order mark, header, CRLF after every record", () => {
  assert.equal(
    csvDocument(["a_wh", "b"], [[1, "x"], [null, "y,z"]]),
    '\uFEFFa_wh,b\r\n1,x\r\n,"y,z"\r\n',
  );
  assert.equal(csvDocument(["a"], []), "\uFEFFa\r\n");
});
