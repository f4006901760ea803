/**
 * A real PostgreSQL for the database export tests: Debian's `postgresql` server binaries run on a
 * throwaway cluster (`initdb` in a temporary directory, a free 127.0.0.1 port, password logins),
 * never the system service. PostgreSQL refuses to run as root, so as root the cluster belongs to
 * the `postgres` user the Debian package creates.
 *
 * `stop()` is a fast shutdown (SIGINT): open connections are cut, as in an outage; `start()` brings
 * the same cluster back on the same port.
 *
 * @module
 */

import pg from "pg";
import { freePort } from "./broker.ts";

/** Where Debian's `postgresql-15` puts the server binaries. */
const BIN_DIR = "/usr/lib/postgresql/15/bin";
/** The superuser of the test cluster and its password. */
const ADMIN = { user: "postgres", password: "admin-secret" };

export interface PostgresServer {
  host: string;
  port: number;
  /** `postgres://USER:PASSWORD@127.0.0.1:PORT/DATABASE`. */
  url(q: { user: string; password: string; database: string }): string;
  /** Runs `sql` as the superuser in `database` (default `postgres`) and returns the rows. */
  query<Row>(sql: string, params?: unknown[], database?: string): Promise<Row[]>;
  /** Fast shutdown: cuts every connection. */
  stop(): Promise<void>;
  /** Starts the same cluster again on the same port. */
  start(): Promise<void>;
  /** Freezes (SIGSTOP) or thaws (SIGCONT) the server and its backends: a hung server. */
  freeze(frozen: boolean): Promise<void>;
  /** Stops it and removes its directory. */
  close(): Promise<void>;
}

/** Fails with what to install when the server binaries are missing. */
async function requireBinaries(): Promise<void> {
  for (const name of ["initdb", "postgres"]) {
    try {
      await Deno.stat(`${BIN_DIR}/${name}`);
    } catch {
      throw new Error(
        `${BIN_DIR}/${name} is missing: install Debian's PostgreSQL 15 server ` +
          "(apt-get install postgresql, or run .ci/setup)",
      );
    }
  }
}

/**
 * `command` run as the `postgres` user when we are root (PostgreSQL refuses root). `setpriv`
 * replaces itself with the command, so signals reach the server itself.
 */
function asServerUser(
  command: string,
  args: string[],
  root: boolean,
): { cmd: string; args: string[] } {
  return root
    ? {
      cmd: "setpriv",
      args: ["--reuid=postgres", "--regid=postgres", "--init-groups", "--", command, ...args],
    }
    : { cmd: command, args };
}

/** Whether we run as root, asked of `id` (`Deno.uid()` would need --allow-sys). */
async function isRoot(): Promise<boolean> {
  const result = await new Deno.Command("id", { args: ["-u"], stdout: "piped" }).output();
  return new TextDecoder().decode(result.stdout).trim() === "0";
}

export async function startPostgres(): Promise<PostgresServer> {
  await requireBinaries();
  const root = await isRoot();
  const dir = await Deno.makeTempDir({ prefix: "openseg-postgres-" });
  // The server user creates its data directory (mode 0700) in here.
  await Deno.chmod(dir, 0o777);
  const dataDir = `${dir}/data`;
  const passwordFile = `${dir}/admin-password`;
  await Deno.writeTextFile(passwordFile, ADMIN.password, { mode: 0o644 });
  await Deno.chmod(passwordFile, 0o644);
  const init = asServerUser(`${BIN_DIR}/initdb`, [
    "-D",
    dataDir,
    "-U",
    ADMIN.user,
    "--pwfile",
    passwordFile,
    "--auth",
    "scram-sha-256",
    "--no-sync",
  ], root);
  const result = await new Deno.Command(init.cmd, {
    args: init.args,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!result.success) {
    await Deno.remove(dir, { recursive: true });
    throw new Error(`initdb failed: ${new TextDecoder().decode(result.stderr)}`);
  }
  const port = freePort();
  let process: Deno.ChildProcess | null = null;
  const server: PostgresServer = {
    host: "127.0.0.1",
    port,
    url: ({ user, password, database }) =>
      `postgres://${encodeURIComponent(user)}:${
        encodeURIComponent(password)
      }@127.0.0.1:${port}/${database}`,
    async query<Row>(sql: string, params: unknown[] = [], database = "postgres") {
      const client = new pg.Client({ host: "127.0.0.1", port, database, ...ADMIN });
      await client.connect();
      try {
        return (await client.query(sql, params)).rows as Row[];
      } finally {
        await client.end();
      }
    },
    async start() {
      const run = asServerUser(`${BIN_DIR}/postgres`, [
        "-D",
        dataDir,
        "-p",
        String(port),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        `unix_socket_directories=${dir}`,
        "-c",
        "fsync=off",
      ], root);
      process = new Deno.Command(run.cmd, { args: run.args, stdout: "null", stderr: "null" })
        .spawn();
      await waitForLogin(port, process);
    },
    async freeze(frozen) {
      if (process === null) return;
      const children = await new Deno.Command("pgrep", {
        args: ["-P", String(process.pid)],
        stdout: "piped",
      }).output();
      const pids = [
        process.pid,
        ...new TextDecoder().decode(children.stdout).split(/\s+/)
          .filter(Boolean).map(Number),
      ];
      for (const pid of pids) Deno.kill(pid, frozen ? "SIGSTOP" : "SIGCONT");
    },
    async stop() {
      if (process === null) return;
      // A fast shutdown: clients are disconnected, as in an outage.
      process.kill("SIGINT");
      await process.status;
      process = null;
    },
    async close() {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
  try {
    await server.start();
  } catch (error) {
    await server.close();
    throw error;
  }
  return server;
}

/** Waits until the superuser can log in (the port opens before recovery has finished). */
async function waitForLogin(port: number, process: Deno.ChildProcess): Promise<void> {
  const deadline = performance.now() + 15_000;
  let exited = false;
  process.status.then(() => (exited = true));
  while (true) {
    const client = new pg.Client({ host: "127.0.0.1", port, database: "postgres", ...ADMIN });
    client.on("error", () => {});
    try {
      await client.connect();
      await client.end();
      return;
    } catch (error) {
      if (exited) throw new Error(`postgres exited at start-up on port ${port}`);
      if (performance.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
