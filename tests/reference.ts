/**
 * Where the tests find the project's reference data (real RAVEn/EMU-2 captures, the ESPI XSDs and
 * Green Button samples): `shared/reference/` beside the repository, as CI lays it out. When it is
 * missing, the first use fails with one message saying what is missing and where it is expected,
 * instead of a bare `NotFound` in every test that reads a file.
 *
 * @module
 */

const REFERENCE = new URL("../../shared/reference/", import.meta.url);

/** The URL of a folder of the reference data (`"raven/"`, `"espi/"`), checked to exist. */
export function referenceFolder(folder: "raven/" | "espi/"): URL {
  const url = new URL(folder, REFERENCE);
  try {
    if (Deno.statSync(url).isDirectory) return url;
  } catch {
    // Reported below with what is expected.
  }
  throw new Error(
    `the reference data ${url.pathname} is missing: these tests read real captures and schemas ` +
      "from shared/reference/ beside the repository (put a copy of the project's shared/ folder " +
      "next to this checkout)",
  );
}
