/**
 * openseg command-line entry: parses the command name and hands the rest to one command module.
 *
 * @module
 */

import { runAdmin } from "./src/cli/admin.ts";
import { runApps } from "./src/cli/apps.ts";
import { backupPermissionNeeds, runBackup } from "./src/cli/backup.ts";
import { runDecode } from "./src/cli/decode.ts";
import { householdsPermissionNeeds, runHouseholds } from "./src/cli/households.ts";
import {
  type Invocation,
  missingPermissionLine,
  permissionErrorLine,
  type PermissionNeed,
  servePermissionNeedsFor,
} from "./src/cli/permissions.ts";
import { runPorts } from "./src/cli/ports.ts";
import { runServe } from "./src/cli/serve.ts";
import { runStatus } from "./src/cli/status.ts";
import { UsageError } from "./src/config/usage_error.ts";
import { SchemaTooNewError } from "./src/store/migrations.ts";

type CommandRunner = (args: string[]) => Promise<number>;

interface Command {
  run: CommandRunner;
  summary: string;
  /** Checked before `run`, so a missing permission is reported before anything starts. */
  permissions?: (args: string[], env: Record<string, string | undefined>) => PermissionNeed[];
}

const commands: Record<string, Command> = {
  serve: {
    run: runServe,
    summary: "run the gateway (simulated meter by default)",
    permissions: servePermissionNeedsFor,
  },
  ports: { run: runPorts, summary: "list serial ports; marks RAVEn and EMU-2 sticks" },
  decode: { run: runDecode, summary: "decode a capture file (or stdin) to NDJSON" },
  status: { run: runStatus, summary: "show what the store holds per meter" },
  admin: { run: runAdmin, summary: "owner account: set-password (from stdin)" },
  apps: { run: runApps, summary: "third-party apps (OAuth clients): add, list, remove" },
  households: {
    run: runHouseholds,
    summary: "households and their meters: add, list, assign, remove, re-key",
    permissions: householdsPermissionNeeds,
  },
  backup: {
    run: runBackup,
    summary: "copy the database consistently, even while serving",
    permissions: backupPermissionNeeds,
  },
};

const usage = `Usage: openseg <command> [options]

openseg is an open smart energy gateway: it reads a ZigBee Smart Energy meter through a
Rainforest RAVEn or EMU-2 stick, keeps the last 48 hours in a local SQLite cache and shares
them only with the apps the owner authorizes.

Commands:
${Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`).join("\n")}

Run 'openseg <command> --help' for the options of one command.
`;

/** Runs one command line; returns the process exit code. */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(usage);
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (command === undefined) {
    console.error(`openseg: unknown command '${name}' (try 'openseg --help')`);
    return 2;
  }
  // Without --allow-env the command itself reports it (one line, from the catch below).
  const env = Deno.permissions.querySync({ name: "env" }).state === "granted"
    ? Deno.env.toObject()
    : {};
  const invocation: Invocation = { command: name, args: rest, env };
  try {
    const missing = missingPermissionLine(
      command.permissions?.(rest, invocation.env) ?? [],
      invocation,
    );
    if (missing !== null) {
      console.error(missing);
      return 2;
    }
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`openseg ${name}: ${error.message}`);
      return 2;
    }
    if (error instanceof SchemaTooNewError) {
      console.error(`openseg ${name}: ${error.message}`);
      return 1;
    }
    const refused = permissionErrorLine(error, invocation);
    if (refused !== null) {
      console.error(refused);
      return 2;
    }
    throw error;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
