/**
 * Builds the release bundle with `packaging/bundle.sh`, the file `deno compile` embeds, for the
 * tests that run openseg as it is shipped.
 *
 * @module
 */

const BUNDLE_SCRIPT = new URL("../../packaging/bundle.sh", import.meta.url).pathname;

/** Builds `DIR/openseg.js` (and its source map beside it); returns its path. */
export async function buildReleaseBundle(dir: string): Promise<string> {
  const bundle = `${dir}/openseg.js`;
  const built = await new Deno.Command("bash", {
    args: [BUNDLE_SCRIPT, bundle],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!built.success) {
    throw new Error(`packaging/bundle.sh failed: ${new TextDecoder().decode(built.stderr)}`);
  }
  return bundle;
}
