/**
 * `openseg admin set-password [--db FILE]`: sets the owner password from stdin (first line), so
 * scripts can run `printf 'secret\n' | openseg admin set-password`. Ends every owner session.
 *
 * @module
 */

import { passwordProblem, setOwnerPassword } from "../auth/owner.ts";
import { openDatabase } from "../store/db.ts";
import { formatHelp, parseCommand } from "../config/options.ts";
import { UsageError } from "../config/usage_error.ts";

const adminOptions = {
  db: {
    flag: "db",
    type: "string",
    default: "openseg.db",
    env: "OPENSEG_DB",
    description: "SQLite database file",
  },
} as const;

const MAX_STDIN_BYTES = 4096;

const help = formatHelp(
  "openseg admin set-password [--db FILE] < password",
  "Set the owner password (read from the first line of stdin; at least 10 characters).",
  adminOptions,
);

export async function runAdmin(args: string[]): Promise<number> {
  const [action, ...rest] = args;
  if (action === undefined || action === "--help" || action === "-h") {
    console.log(help);
    return action === undefined ? 2 : 0;
  }
  if (action !== "set-password") throw new UsageError(`unknown action '${action}'`);
  const { values, help: wantsHelp } = parseCommand(adminOptions, rest, {
    env: Deno.env.toObject(),
  });
  if (wantsHelp) {
    console.log(help);
    return 0;
  }
  if (Deno.stdin.isTerminal()) {
    console.error("openseg admin: type the new password and press Enter (it will be shown)");
  }
  const password = await readFirstLine(Deno.stdin.readable);
  const problem = password === null ? "no password on stdin" : passwordProblem(password);
  if (problem !== null) {
    console.error(`openseg admin set-password: ${problem}`);
    return 1;
  }
  const db = openDatabase(values.db);
  try {
    await setOwnerPassword(db, password!, Date.now());
  } finally {
    db.close();
  }
  console.log(`openseg: owner password set in ${values.db}; existing sessions ended`);
  return 0;
}

/** The first line of a stream without its line ending, or null when the stream is empty. */
export async function readFirstLine(stream: ReadableStream<Uint8Array>): Promise<string | null> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of stream) {
    text += decoder.decode(chunk, { stream: true });
    if (text.includes("\n") || text.length > MAX_STDIN_BYTES) break;
  }
  if (text === "") return null;
  return text.split("\n")[0].replace(/\r$/, "");
}
