// graphql-jit loads fast-json-stringify (and with it ajv and fast-uri, 550 KB of source) but calls
// it only when a query is compiled with `customJSONSerializer`, which openseg never sets. The
// release bundle takes this file instead, so that code is neither bundled nor held in memory.
"use strict";
module.exports = function fastJsonStringify() {
  throw new Error(
    "fast-json-stringify is not in the openseg release bundle: compile queries without customJSONSerializer",
  );
};
