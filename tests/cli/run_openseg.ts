/**
 * The CLI as a script calls it: `openseg …` run as a real subprocess of `main.ts`, and a
 * temporary database path for it.
 *
 * @module
 */

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** What one run printed and how it ended. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `openseg …` as a real subprocess, feeding `stdin`. */
export async function openseg(args: string[], stdin = ""): Promise<CliResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-ffi", "--allow-env", "--allow-read", "--allow-write", MAIN, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(stdin));
  await writer.close();
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Runs `test` with the path of a database file in a fresh temporary directory. */
export async function withDbPath(test: (path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "openseg-cli-" });
  try {
    await test(`${dir}/openseg.db`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
