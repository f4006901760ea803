/**
 * `openseg apps add|list|remove`: the owner registers third-party apps (OAuth clients). `add`
 * prints the client id, the client secret of a confidential app and the registration access
 * token — each shown once, stored only hashed.
 *
 * @module
 */

import { type AppInfo, listApps, registerApp, removeApp } from "../auth/apps.ts";
import { openDatabase } from "../store/db.ts";
import { formatHelp, parseCommand } from "../config/options.ts";
import { UsageError } from "../config/usage_error.ts";

/** `--db FILE`, as every command that opens the database takes it. */
export const dbOption = {
  flag: "db",
  type: "string",
  default: "openseg.db",
  env: "OPENSEG_DB",
  description: "SQLite database file",
} as const;

/** `--json`: machine-readable output. */
export const jsonOption = { flag: "json", type: "boolean", description: "print JSON" } as const;

const addOptions = {
  name: { flag: "name", type: "string", description: "the app's name, shown on the consent page" },
  redirectUri: {
    flag: "redirect-uri",
    type: "strings",
    description: "where codes are sent (exact match); repeatable",
  },
  scope: {
    flag: "scope",
    type: "strings",
    description:
      "ESPI scope the app may ask for (default: 48 h of 15-min interval energy, cost, usage " +
      "summaries); repeatable",
  },
  notifyUri: {
    flag: "notify-uri",
    type: "string",
    description: "where ESPI notifications of new data are POSTed (https; http for localhost)",
  },
  public: {
    flag: "public",
    type: "boolean",
    description: "a public client (phone app): no secret, PKCE required",
  },
  json: jsonOption,
  db: dbOption,
} as const;

const listOptions = { json: jsonOption, db: dbOption } as const;
const removeOptions = { db: dbOption } as const;

const usage = `Usage: openseg apps <add|list|remove> [options]

  apps add --name NAME --redirect-uri URI [--scope SCOPE] [--notify-uri URI] [--public] [--json]
  apps list [--json]
  apps remove CLIENT_ID

Run 'openseg apps <action> --help' for the options of one action.`;

export function runApps(args: string[]): Promise<number> {
  return Promise.resolve(appsCommand(args));
}

function appsCommand(args: string[]): number {
  const [action, ...rest] = args;
  const env = Deno.env.toObject();
  switch (action) {
    case "add": {
      const { values, help } = parseCommand(addOptions, rest, { env });
      if (help) return printHelp("apps add", "Register a third-party app.", addOptions);
      if (values.name === undefined) throw new UsageError("--name is required");
      if (values.redirectUri.length === 0) throw new UsageError("--redirect-uri is required");
      return withDb(values.db, (db) => {
        let registered;
        try {
          registered = registerApp(db, {
            name: values.name!,
            redirectUris: values.redirectUri,
            scopes: values.scope,
            isPublic: values.public,
            notifyUri: values.notifyUri,
            nowMs: Date.now(),
          });
        } catch (error) {
          if (error instanceof RangeError) throw new UsageError(error.message);
          throw error;
        }
        const output = {
          client_id: registered.app.clientId,
          client_secret: registered.clientSecret,
          registration_access_token: registered.registrationAccessToken,
          client_name: registered.app.name,
          redirect_uris: registered.app.redirectUris,
          scope: registered.app.scopes,
          notify_uri: registered.app.notifyUri,
          token_endpoint_auth_method: registered.app.isPublic ? "none" : "client_secret_basic",
        };
        if (values.json) {
          console.log(JSON.stringify(output, null, 2));
        } else {
          console.log(`client_id:                 ${output.client_id}`);
          if (output.client_secret !== null) {
            console.log(`client_secret:             ${output.client_secret}`);
          }
          console.log(`registration_access_token: ${output.registration_access_token}`);
          console.log("Store the secrets now: they are shown only once.");
        }
        return 0;
      });
    }
    case "list": {
      const { values, help } = parseCommand(listOptions, rest, { env });
      if (help) return printHelp("apps list", "List registered apps.", listOptions);
      return withDb(values.db, (db) => {
        const apps = listApps(db);
        console.log(values.json ? JSON.stringify(apps, null, 2) : formatApps(apps));
        return 0;
      });
    }
    case "remove": {
      const { values, positionals, help } = parseCommand(removeOptions, rest, {
        env,
        positionals: 1,
      });
      if (help) {
        return printHelp("apps remove CLIENT_ID", "Remove an app and its access.", removeOptions);
      }
      if (positionals.length !== 1) throw new UsageError("name the CLIENT_ID to remove");
      return withDb(values.db, (db) => {
        if (!removeApp(db, positionals[0])) {
          console.error(`openseg apps: no app '${positionals[0]}'`);
          return 1;
        }
        console.log(`openseg: removed app ${positionals[0]} and all its authorizations`);
        return 0;
      });
    }
    default:
      return usageOrUnknownAction(usage, action);
  }
}

/**
 * A command without a known action: its usage (exit code 2 without one, 0 for `--help`), or a
 * usage error naming the unknown action.
 */
export function usageOrUnknownAction(usage: string, action: string | undefined): number {
  if (action !== undefined && action !== "--help" && action !== "-h") {
    throw new UsageError(`unknown action '${action}'`);
  }
  console.log(usage);
  return action === undefined ? 2 : 0;
}

/** Prints the `--help` text of one action; exit code 0. */
export function printHelp(
  usageLine: string,
  summary: string,
  specs: Parameters<typeof formatHelp>[2],
): number {
  console.log(formatHelp(`openseg ${usageLine}`, summary, specs));
  return 0;
}

/** Runs `action` on the database at `path`, closing it afterwards. */
export function withDb(
  path: string,
  action: (db: ReturnType<typeof openDatabase>) => number,
): number {
  const db = openDatabase(path);
  try {
    return action(db);
  } finally {
    db.close();
  }
}

function formatApps(apps: AppInfo[]): string {
  if (apps.length === 0) return "no apps registered";
  return apps.map((app) =>
    [
      `${app.clientId}  ${app.name}${app.isPublic ? " (public)" : ""}`,
      `  redirect: ${app.redirectUris.join(", ")}`,
      `  scope:    ${app.scopes.join(" | ")}`,
      ...(app.notifyUri === null ? [] : [`  notify:   ${app.notifyUri}`]),
    ].join("\n")
  ).join("\n");
}
