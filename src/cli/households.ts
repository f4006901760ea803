/**
 * `openseg households add|list|assign|unassign|remove|re-key`: the administrator's tools for a
 * gateway shared by several households (ESPI RetailCustomers). `add` prints the newcomer's one-time
 * setup code, `assign` gives a meter to a household. Safe while `serve` runs on the same database:
 * the gateway reads ownership and credentials afresh for every request, so nothing needs a restart.
 *
 * Bad input (an unknown household or meter, a name that cannot be used) is one line on stderr and
 * exit code 2, and changes nothing.
 *
 * @module
 */

import { existsSync } from "node:fs";
import type { DatabaseSync } from "node:sqlite";
import { listAuthorizations } from "../auth/authorizations.ts";
import {
  householdsOverview,
  type OverviewMeter,
  overviewMeter,
} from "../auth/household_overview.ts";
import { HOUSEHOLD_SETUP_CODE_EXPIRES_IN_S, rekeyHousehold } from "../auth/owner.ts";
import { parseCommand } from "../config/options.ts";
import { UsageError } from "../config/usage_error.ts";
import {
  findManagedMeter,
  listManagedMeters,
  type ManagedMeter,
} from "../store/household_meters.ts";
import {
  addHousehold,
  assignMeter,
  findHouseholdByName,
  type Household,
  householdNameProblem,
  listHouseholds,
  removeHousehold,
} from "../store/households.ts";
import { databaseNeed, type PermissionNeed } from "./permissions.ts";
import { dbOption, jsonOption, printHelp, usageOrUnknownAction, withDb } from "./apps.ts";

/** Every option of the command (each action takes the ones it names in its help). */
export const householdsOptions = {
  json: { ...jsonOption, description: "print JSON (add, list, re-key)" },
  none: {
    flag: "none",
    type: "boolean",
    description: "assign: give the meter to no household (same as `unassign METER`)",
  },
  db: dbOption,
} as const;

const { json, none, db } = householdsOptions;
const jsonAndDb = { json, db } as const;
const assignOptions = { none, db } as const;
const dbOnly = { db } as const;

const SINGLE_HOME_OWNS_EVERY_METER = "with one household it owns every meter: add a second " +
  "with 'openseg households add NAME' first";

const usage = `Usage: openseg households <add|list|assign|unassign|remove|re-key> [options]

  households add NAME [--json]           a new household; prints its one-time setup code
  households list [--json]               households, their meters, unassigned meters
  households assign HOUSEHOLD METER      give a meter to a household (by name or id)
  households unassign METER              give a meter to no one (also: assign --none METER)
  households remove HOUSEHOLD            remove a household (its meters become unassigned)
  households re-key HOUSEHOLD [--json]   a new setup code; the old password stops working

METER is a meter key (the meter's MAC), a usage point id or a meter name.
Run 'openseg households <action> --help' for the options of one action.`;

/** What `openseg households ARGS` needs: the database's directory, read and write. */
export function householdsPermissionNeeds(
  args: string[],
  env: Record<string, string | undefined>,
): PermissionNeed[] {
  const [action, ...words] = args;
  if (action === undefined || action.startsWith("-")) return [];
  const rest = dashedWordsAsPositionals(words);
  const { values, help } = parseCommand(householdsOptions, rest, { env, positionals: 2 });
  return help ? [] : [databaseNeed(householdsOptions.db, values.db)];
}

export function runHouseholds(args: string[]): Promise<number> {
  return Promise.resolve(householdsCommand(args, Deno.env.toObject()));
}

function householdsCommand(args: string[], env: Record<string, string | undefined>): number {
  const [action, ...words] = args;
  const rest = dashedWordsAsPositionals(words);
  switch (action) {
    case "add": {
      const { values, positionals, help } = parseCommand(jsonAndDb, rest, {
        env,
        positionals: 1,
      });
      if (help) return printHelp("households add NAME", "Add a household.", jsonAndDb);
      if (positionals.length !== 1) throw new UsageError("name the household to add");
      // Checked before the database is opened (or created): a bad name leaves no trace.
      const problem = householdNameProblem(positionals[0]);
      if (problem !== null) throw new UsageError(problem);
      // The first command on a new gateway may be this one: it creates the database.
      return withDb(values.db, (db) => add(db, positionals[0], values.json));
    }
    case "list": {
      const { values, help } = parseCommand(jsonAndDb, rest, { env });
      if (help) return printHelp("households list", "List households and meters.", jsonAndDb);
      return withExistingDb(values.db, (db) => list(db, values.json));
    }
    case "assign":
    case "unassign": {
      const unassign = action === "unassign";
      const { values, positionals, help } = parseCommand(assignOptions, rest, {
        env,
        positionals: 2,
      });
      if (help) {
        return printHelp(
          "households assign HOUSEHOLD METER | assign --none METER | unassign METER",
          "Give a meter to a household, or to no one.",
          assignOptions,
        );
      }
      const toNoOne = unassign || values.none;
      if (positionals.length !== (toNoOne ? 1 : 2)) {
        throw new UsageError(
          toNoOne ? "name the METER to unassign" : "name the HOUSEHOLD and the METER",
        );
      }
      const [householdName, meterName] = toNoOne ? [null, positionals[0]] : positionals;
      return withExistingDb(values.db, (db) => assign(db, householdName, meterName));
    }
    case "remove": {
      const { values, positionals, help } = parseCommand(dbOnly, rest, { env, positionals: 1 });
      if (help) return printHelp("households remove HOUSEHOLD", "Remove a household.", dbOnly);
      if (positionals.length !== 1) throw new UsageError("name the HOUSEHOLD to remove");
      return withExistingDb(values.db, (db) => remove(db, positionals[0]));
    }
    case "re-key": {
      const { values, positionals, help } = parseCommand(jsonAndDb, rest, {
        env,
        positionals: 1,
      });
      if (help) {
        return printHelp(
          "households re-key HOUSEHOLD",
          "Issue a new setup code; the household's password stops working.",
          jsonAndDb,
        );
      }
      if (positionals.length !== 1) throw new UsageError("name the HOUSEHOLD to re-key");
      return withExistingDb(values.db, (db) => rekey(db, positionals[0], values.json));
    }
    default:
      return usageOrUnknownAction(usage, action);
  }
}

function add(db: DatabaseSync, name: string, asJson: boolean): number {
  const nowMs = Date.now();
  const before = listHouseholds(db);
  const household = refusing(() => addHousehold(db, { name, nowMs }));
  const setupCode = rekeyHousehold(db, household.householdId, nowMs);
  // Until now the one household signed in with the administrator's password; from now on that
  // password reads no readings, so the household needs a password of its own.
  const previous = before.length === 1 ? before[0] : null;
  const previousCode = previous !== null && !previous.hasPassword
    ? rekeyHousehold(db, previous.householdId, nowMs)
    : null;
  const kept = previous === null ? [] : metersOf(db, previous.householdId);
  const expiresMs = nowMs + HOUSEHOLD_SETUP_CODE_EXPIRES_IN_S * 1000;
  if (asJson) {
    console.log(JSON.stringify(
      {
        householdId: household.householdId,
        retailCustomerId: household.householdId,
        name: household.name,
        setupCode,
        setupCodeExpiresMs: expiresMs,
        becameMultiHousehold: previous === null ? null : {
          householdId: previous.householdId,
          name: previous.name,
          setupCode: previousCode,
          meters: kept,
        },
      },
      null,
      2,
    ));
    return 0;
  }
  const until = new Date(expiresMs).toISOString();
  console.log(
    `Added household ${household.householdId} "${household.name}" ` +
      `(ESPI RetailCustomer ${household.householdId}).`,
  );
  console.log(`Setup code: ${setupCode} (once, until ${until})`);
  console.log(
    `Hand it on: the household opens /owner/setup on the gateway, enters the code and chooses ` +
      `a password, then signs in at /owner/login as "${household.name}".`,
  );
  if (previous === null) return 0;
  console.log(
    `\nThis gateway now has ${before.length + 1} households: from now on the administrator ` +
      `password runs the gateway but reads no household's readings.`,
  );
  if (previousCode !== null) {
    console.log(
      `"${previous.name}" (household ${previous.householdId}) needs a password of its own. ` +
        `Its setup code: ${previousCode} (once, until ${until})`,
    );
  }
  console.log(
    kept.length === 0
      ? `"${previous.name}" has no meters.`
      : `Meters that stayed with "${previous.name}": ${kept.map(describeMeter).join(", ")}`,
  );
  console.log(
    "Exports (MQTT, databases) of a household's meters now run only once that household turns " +
      "its export switch on.",
  );
  console.log(`Give it meters with: openseg households assign ${shellWord(household.name)} METER`);
  return 0;
}

function list(db: DatabaseSync, asJson: boolean): number {
  const overview = householdsOverview(db, Date.now());
  if (asJson) {
    console.log(JSON.stringify(overview, null, 2));
    return 0;
  }
  const width = Math.max(...overview.households.map((household) => household.name.length));
  for (const household of overview.households) {
    const exports = `exports ${household.exportAllowed ? "on" : "off"}`;
    console.log(
      `${String(household.householdId).padStart(3)}  ${household.name.padEnd(width)}  ` +
        `${household.signIn}; ${exports}`,
    );
    console.log(
      household.meters.length === 0
        ? "     (no meters)"
        : household.meters.map(meterLine).join("\n"),
    );
  }
  if (overview.unassignedMeters.length > 0) {
    console.log(
      `Unassigned meters (nobody reads them):\n${
        overview.unassignedMeters.map(meterLine).join("\n")
      }`,
    );
  }
  return 0;
}

function assign(db: DatabaseSync, householdName: string | null, meterName: string): number {
  const household = householdName === null ? null : namedHousehold(db, householdName);
  const meter = refusing(() => findManagedMeter(db, meterName));
  if (meter === null) {
    throw new UsageError(`no meter "${meterName}" (see 'openseg households list')`);
  }
  const households = listHouseholds(db);
  // A single home's household owns every meter whatever is stored: an assignment would be a no-op.
  if (households.length === 1) throw new UsageError(SINGLE_HOME_OWNS_EVERY_METER);
  const targetId = household?.householdId ?? null;
  const to = household === null ? "no household" : `"${household.name}"`;
  if (meter.householdId === targetId) {
    console.log(`Meter ${describeMeter(meter)} already belongs to ${to}.`);
    return 0;
  }
  assignMeter(db, meter.meterKey, targetId);
  const from = households.find((h) => h.householdId === meter.householdId);
  console.log(`Meter ${describeMeter(meter)} now belongs to ${to}.`);
  if (from !== undefined) {
    console.log(`"${from.name}" and the apps it authorized no longer read it.`);
  }
  return 0;
}

function remove(db: DatabaseSync, name: string): number {
  const household = namedHousehold(db, name);
  const meters = metersOf(db, household.householdId);
  const authorizations = listAuthorizations(db, { householdId: household.householdId }).length;
  refusing(() => removeHousehold(db, household.householdId));
  console.log(`Removed household ${household.householdId} "${household.name}".`);
  console.log(
    meters.length === 0
      ? "It had no meters."
      : `Its meters are unassigned now: ${meters.map(describeMeter).join(", ")}`,
  );
  console.log(
    `Its sign-in sessions ended and its ${authorizations} app authorization(s) were deleted.`,
  );
  if (listHouseholds(db).length === 1) {
    console.log(
      "One household is left: it owns every meter again and the administrator password reads " +
        "everything, as in a single home.",
    );
  }
  return 0;
}

function rekey(db: DatabaseSync, name: string, asJson: boolean): number {
  const household = namedHousehold(db, name);
  if (listHouseholds(db).length === 1) {
    throw new UsageError(
      "with one household the administrator password is its password: change that with " +
        "'openseg admin set-password'",
    );
  }
  const nowMs = Date.now();
  const setupCode = rekeyHousehold(db, household.householdId, nowMs);
  const expiresMs = nowMs + HOUSEHOLD_SETUP_CODE_EXPIRES_IN_S * 1000;
  if (asJson) {
    console.log(JSON.stringify(
      {
        householdId: household.householdId,
        name: household.name,
        setupCode,
        setupCodeExpiresMs: expiresMs,
      },
      null,
      2,
    ));
    return 0;
  }
  console.log(
    `New setup code for "${household.name}": ${setupCode} (once, until ${
      new Date(expiresMs).toISOString()
    })`,
  );
  console.log(
    "Its old password stopped working and its sessions ended; its meters, data and app " +
      "authorizations stay. It sets a new password at /owner/setup with this code.",
  );
  return 0;
}

/** Flags of this command that take a value (`--config` is every command's). */
const VALUE_FLAGS = new Set(["db", "config"]);

/**
 * The arguments with every word that is not an option moved behind `--`, so a usage point id —
 * base64url, it may start with `-` — or a household name such as `-5 West` is taken as a word:
 * this command has no short options but `-h`.
 */
function dashedWordsAsPositionals(args: string[]): string[] {
  const options: string[] = [];
  const words: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      words.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith("--") && arg !== "-h") {
      words.push(arg);
      continue;
    }
    options.push(arg);
    if (VALUE_FLAGS.has(arg.slice(2)) && i + 1 < args.length) options.push(args[++i]);
  }
  return [...options, "--", ...words];
}

/** The household named `name` (or with that id); a usage error when there is none. */
function namedHousehold(db: DatabaseSync, name: string): Household {
  const household = findHouseholdByName(db, name);
  if (household === null) {
    throw new UsageError(`no household "${name}" (see 'openseg households list')`);
  }
  return household;
}

function metersOf(db: DatabaseSync, householdId: number): OverviewMeter[] {
  return listManagedMeters(db).filter((meter) => meter.householdId === householdId)
    .map(overviewMeter);
}

/** `name` as one word for a POSIX shell. */
function shellWord(name: string): string {
  return /^[\w.,:@%+=-]+$/.test(name) ? name : `'${name.replaceAll("'", `'"'"'`)}'`;
}

function describeMeter(meter: Pick<ManagedMeter, "meterKey" | "name">): string {
  return meter.name === null ? meter.meterKey : `${meter.meterKey} (${meter.name})`;
}

function meterLine(meter: OverviewMeter): string {
  return `     ${meter.meterKey}  ${meter.name ?? "(no name)"}  usage point ${meter.usagePointId}`;
}

/** Runs a store call whose `RangeError` is the user's mistake (exit 2), not a crash. */
function refusing<T>(call: () => T): T {
  try {
    return call();
  } catch (error) {
    if (error instanceof RangeError) throw new UsageError(error.message);
    throw error;
  }
}

/** Like `withDb`, but a database that is not there is an error, not a new empty gateway. */
function withExistingDb(path: string, action: (db: DatabaseSync) => number): number {
  if (path !== ":memory:" && !existsSync(path)) throw new UsageError(`no database at ${path}`);
  return withDb(path, action);
}
