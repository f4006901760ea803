/**
 * THE ordered list of schema migrations, tracked with `PRAGMA user_version`.
 *
 * Append only: never edit a migration that has shipped, add a new one. Migration N brings the
 * schema from version N-1 to N and runs in its own transaction together with the version bump,
 * so a crash mid-migration leaves the previous version intact.
 *
 * Two families of tables:
 * - Ring tables (`demand`, `summation`, `intervals`, `demand_rollup`, `prices`, `messages`) hold
 *   the last `retentionHours` per meter and are trimmed on every flush (see `ring.ts`). They are
 *   `WITHOUT ROWID` with the meter first in the primary key, so inserts, range reads and trims are
 *   all one B-tree range per meter.
 * - Durable tables (`meters`, `devices`, `ports`, `join_state`, `latest_state`, `warnings`) hold
 *   one row per thing (meter, device, port, counter) and are never trimmed. A radio's `LinkKey`
 *   is deliberately not stored: it is a ZigBee join credential the gateway never needs.
 * - Access-control tables (migration 2: `owner_account`, `owner_sessions`, `auth_failures`,
 *   `oauth_apps`, `oauth_authorizations`, `oauth_codes`, `oauth_tokens`, `usage_points`) are
 *   durable too: they live outside the ring and survive restarts. Secrets (password, session ids,
 *   codes, tokens, client secrets) are stored only as hashes.
 * - Export tables (migration 3: `export_cursors`, `gateway_identity`) are durable: the cursor of
 *   the last interval each sink (MQTT) acknowledged per meter, and the gateway's opaque id.
 * - Migration 4 adds `oauth_apps.notify_uri`, where an app receives ESPI notifications.
 * - Migration 5 bounds the access-control tables: `oauth_authorizations.code_pending_until_ms`
 *   marks an approval whose code has not been exchanged yet (it is listed nowhere and is swept when
 *   the code expires), and indexes let the sweep and the failure-table cap find old rows cheaply.
 * - Migration 6 removes the radio's secrets stored in clear by migration 1: `devices.install_code`
 *   becomes `install_code_last4` (the last four hex digits), `meters.auth` is dropped (see
 *   `secrets.ts`). It runs with `scrub`, so no copy of the old values stays in the file or WAL.
 * - Migration 7 adds `intervals.source`: where a row's energy comes from (`INTERVAL_SOURCES`),
 *   so an interval the meter itself reported after an outage (gap repair) is told apart, and
 *   `meters.interval_revision`, which each gap repair bumps so an exporter's batch read before it
 *   cannot move a cursor past the repaired intervals (`export_cursor.ts`).
 * - Migration 8 gives each stored meter lacking one its `usage_points` id (see `usage_points.ts`).
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { get } from "./statements.ts";

/** One schema step; `version` is the `user_version` after it ran. */
export interface Migration {
  version: number;
  sql: string;
  /**
   * The migration removes secrets: run it with `secure_delete` (freed space is zeroed) and
   * truncate the WAL after it, so no old copy of the values stays on disk.
   */
  scrub?: boolean;
}

/** Interval quality codes as stored; higher is worse, so `max()` merges them. */
export const QUALITY_CODES = { valid: 0, estimated: 1, questionable: 2 } as const;

/**
 * Interval source codes as stored: `derived` from register readings (`intervals.ts`), or the
 * `meter`'s own interval data (`get_profile_data`, see `gap_repair.ts`).
 */
export const INTERVAL_SOURCES = { derived: 0, meter: 1 } as const;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE meters (
        meter_key TEXT PRIMARY KEY,
        port TEXT NOT NULL,
        device_mac TEXT,
        first_seen_ms INTEGER NOT NULL,
        last_seen_ms INTEGER NOT NULL,
        name TEXT,
        meter_type TEXT,
        account TEXT,
        auth TEXT,
        host TEXT,
        enabled INTEGER,
        info_received_ms INTEGER
      );
      CREATE TABLE devices (
        device_mac TEXT PRIMARY KEY,
        port TEXT NOT NULL,
        install_code TEXT,
        firmware_version TEXT,
        hardware_version TEXT,
        image_type TEXT,
        manufacturer TEXT,
        model_id TEXT,
        date_code_date TEXT,
        date_code_lot TEXT,
        received_ms INTEGER NOT NULL
      );
      CREATE TABLE ports (
        port TEXT PRIMARY KEY,
        device_mac TEXT,
        known_meter_key TEXT,
        meter_list_json TEXT,
        link_state TEXT,
        link_detail TEXT,
        link_at_ms INTEGER
      );
      CREATE TABLE join_state (
        meter_key TEXT PRIMARY KEY,
        port TEXT NOT NULL,
        fragment TEXT NOT NULL,
        status TEXT NOT NULL,
        connected INTEGER NOT NULL,
        description TEXT,
        status_code INTEGER,
        ext_pan_id TEXT,
        channel INTEGER,
        short_addr TEXT,
        link_strength_percent REAL,
        ts_ms INTEGER NOT NULL,
        received_ms INTEGER NOT NULL
      );
      CREATE TABLE latest_state (
        meter_key TEXT NOT NULL,
        kind TEXT NOT NULL,
        ts_ms INTEGER NOT NULL,
        received_ms INTEGER NOT NULL,
        event_json TEXT NOT NULL,
        PRIMARY KEY (meter_key, kind)
      ) WITHOUT ROWID;
      CREATE TABLE warnings (
        port TEXT NOT NULL,
        meter_key TEXT NOT NULL, -- '' when not meter-scoped
        kind TEXT NOT NULL,
        count INTEGER NOT NULL,
        last_ms INTEGER NOT NULL,
        PRIMARY KEY (port, meter_key, kind)
      ) WITHOUT ROWID;

      CREATE TABLE demand (
        meter_key TEXT NOT NULL,
        ts_ms INTEGER NOT NULL,
        received_ms INTEGER NOT NULL,
        demand_w REAL, -- NULL: the meter reported "invalid"
        PRIMARY KEY (meter_key, ts_ms)
      ) WITHOUT ROWID;
      CREATE TABLE summation (
        meter_key TEXT NOT NULL,
        ts_ms INTEGER NOT NULL,
        received_ms INTEGER NOT NULL,
        delivered_wh REAL NOT NULL,
        received_wh REAL,
        PRIMARY KEY (meter_key, ts_ms)
      ) WITHOUT ROWID;
      CREATE TABLE intervals (
        meter_key TEXT NOT NULL,
        start_ms INTEGER NOT NULL,
        duration_s INTEGER NOT NULL,
        delivered_wh REAL NOT NULL,
        received_wh REAL NOT NULL,
        quality INTEGER NOT NULL, -- QUALITY_CODES
        PRIMARY KEY (meter_key, start_ms, duration_s)
      ) WITHOUT ROWID;
      CREATE TABLE demand_rollup (
        meter_key TEXT NOT NULL,
        bucket_min INTEGER NOT NULL,
        bucket_ms INTEGER NOT NULL,
        n INTEGER NOT NULL,
        sum_w REAL NOT NULL,
        min_w REAL NOT NULL,
        max_w REAL NOT NULL,
        PRIMARY KEY (meter_key, bucket_min, bucket_ms)
      ) WITHOUT ROWID;
      CREATE TABLE prices (
        meter_key TEXT NOT NULL,
        ts_ms INTEGER NOT NULL,
        received_ms INTEGER NOT NULL,
        price_per_kwh REAL,
        currency_code INTEGER,
        currency TEXT,
        tier INTEGER,
        label TEXT,
        start_time_ms INTEGER,
        duration_s INTEGER,
        PRIMARY KEY (meter_key, ts_ms)
      ) WITHOUT ROWID;
      CREATE TABLE messages (
        meter_key TEXT NOT NULL,
        message_id TEXT NOT NULL,
        ts_ms INTEGER NOT NULL, -- last time the meter sent it; the ring trims on this
        received_ms INTEGER NOT NULL,
        text TEXT NOT NULL,
        confirmation_required INTEGER NOT NULL,
        confirmed INTEGER NOT NULL,
        queue TEXT,
        priority TEXT,
        start_time_ms INTEGER,
        duration_s INTEGER,
        PRIMARY KEY (meter_key, message_id)
      ) WITHOUT ROWID;
      CREATE INDEX messages_by_time ON messages (meter_key, ts_ms);
    `,
  },
  {
    version: 2,
    sql: `
      CREATE TABLE owner_account (
        id INTEGER PRIMARY KEY CHECK (id = 1), -- one owner per gateway
        password_hash TEXT,                    -- scrypt$N$r$p$salt$hash; NULL until set
        setup_code_hash TEXT,                  -- SHA-256 of the one-time setup code
        setup_code_expires_ms INTEGER,
        updated_ms INTEGER NOT NULL
      );
      CREATE TABLE owner_sessions (
        id_hash TEXT PRIMARY KEY,
        created_ms INTEGER NOT NULL,
        expires_ms INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE auth_failures (
        key TEXT NOT NULL, -- e.g. 'login|127.0.0.1|owner'
        at_ms INTEGER NOT NULL
      );
      CREATE INDEX auth_failures_by_key ON auth_failures (key, at_ms);
      CREATE TABLE oauth_apps (
        client_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        redirect_uris_json TEXT NOT NULL,
        scopes_json TEXT NOT NULL,
        is_public INTEGER NOT NULL,
        secret_hash TEXT, -- NULL for public clients
        created_ms INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE oauth_authorizations (
        authorization_id TEXT PRIMARY KEY,
        subscription_id TEXT NOT NULL UNIQUE,
        client_id TEXT NOT NULL REFERENCES oauth_apps (client_id) ON DELETE CASCADE,
        scope TEXT NOT NULL,
        usage_point_ids_json TEXT NOT NULL,
        status TEXT NOT NULL, -- 'active' | 'revoked'
        created_ms INTEGER NOT NULL,
        revoked_ms INTEGER
      ) WITHOUT ROWID;
      CREATE INDEX oauth_authorizations_by_client ON oauth_authorizations (client_id);
      CREATE TABLE oauth_codes (
        code_hash TEXT PRIMARY KEY,
        authorization_id TEXT NOT NULL
          REFERENCES oauth_authorizations (authorization_id) ON DELETE CASCADE,
        client_id TEXT NOT NULL,
        redirect_uri TEXT,     -- as sent to /oauth/authorize; NULL when omitted
        code_challenge TEXT,   -- PKCE S256 challenge; NULL when none
        expires_ms INTEGER NOT NULL,
        used_ms INTEGER
      ) WITHOUT ROWID;
      CREATE TABLE oauth_tokens (
        token_hash TEXT PRIMARY KEY,
        token_id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL, -- 'access' | 'refresh' | 'client' | 'registration'
        client_id TEXT NOT NULL REFERENCES oauth_apps (client_id) ON DELETE CASCADE,
        authorization_id TEXT
          REFERENCES oauth_authorizations (authorization_id) ON DELETE CASCADE,
        created_ms INTEGER NOT NULL,
        expires_ms INTEGER, -- NULL: does not expire
        revoked_ms INTEGER
      ) WITHOUT ROWID;
      CREATE INDEX oauth_tokens_by_authorization ON oauth_tokens (authorization_id);
      CREATE INDEX oauth_tokens_by_client ON oauth_tokens (client_id);
      CREATE TABLE usage_points (
        meter_key TEXT PRIMARY KEY,
        usage_point_id TEXT NOT NULL UNIQUE
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 3,
    sql: `
      CREATE TABLE export_cursors (
        sink TEXT NOT NULL,          -- e.g. 'mqtt'
        meter_key TEXT NOT NULL,
        start_ms INTEGER NOT NULL,   -- the last interval the sink acknowledged
        duration_s INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        PRIMARY KEY (sink, meter_key)
      ) WITHOUT ROWID;
      CREATE TABLE gateway_identity (
        id INTEGER PRIMARY KEY CHECK (id = 1), -- one identity per gateway
        gateway_id TEXT NOT NULL
      );
    `,
  },
  {
    version: 4,
    // Where an app wants ESPI BatchList notifications; NULL: the app polls.
    sql: "ALTER TABLE oauth_apps ADD COLUMN notify_uri TEXT;",
  },
  {
    version: 5,
    sql: `
      ALTER TABLE oauth_authorizations ADD COLUMN code_pending_until_ms INTEGER;
      -- Approvals made before this migration whose codes were never exchanged: pending, so the
      -- sweep removes them instead of the owner's page listing them as active forever.
      UPDATE oauth_authorizations SET code_pending_until_ms = (
          SELECT max(c.expires_ms) FROM oauth_codes c
          WHERE c.authorization_id = oauth_authorizations.authorization_id)
        WHERE EXISTS (SELECT 1 FROM oauth_codes c
            WHERE c.authorization_id = oauth_authorizations.authorization_id)
          AND NOT EXISTS (SELECT 1 FROM oauth_codes c
            WHERE c.authorization_id = oauth_authorizations.authorization_id
              AND c.used_ms IS NOT NULL)
          AND NOT EXISTS (SELECT 1 FROM oauth_tokens t
            WHERE t.authorization_id = oauth_authorizations.authorization_id);
      CREATE INDEX auth_failures_by_time ON auth_failures (at_ms);
      CREATE INDEX oauth_tokens_by_expiry ON oauth_tokens (expires_ms);
      CREATE INDEX oauth_codes_by_expiry ON oauth_codes (expires_ms);
      CREATE INDEX oauth_codes_by_authorization ON oauth_codes (authorization_id);
    `,
  },
  {
    version: 6,
    scrub: true,
    // Only codes of 12+ hex digits keep a hint (the rule of secrets.ts); `auth` goes entirely.
    sql: `
      ALTER TABLE devices ADD COLUMN install_code_last4 TEXT;
      UPDATE devices SET install_code_last4 = CASE
          WHEN length(install_code) >= 14 AND lower(substr(install_code, 1, 2)) = '0x'
            AND lower(substr(install_code, 3)) NOT GLOB '*[^0-9a-f]*'
          THEN lower(substr(install_code, -4)) END,
        install_code = NULL;
      ALTER TABLE devices DROP COLUMN install_code;
      UPDATE meters SET auth = NULL;
      ALTER TABLE meters DROP COLUMN auth;
    `,
  },
  {
    version: 7,
    sql: `
      -- INTERVAL_SOURCES; rows stored before are all derived.
      ALTER TABLE intervals ADD COLUMN source INTEGER NOT NULL DEFAULT 0;
      -- Bumped by each gap repair of the meter (export_cursor.ts).
      ALTER TABLE meters ADD COLUMN interval_revision INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 8,
    sql: `
      -- Usage point ids were created on first read; now the ingest path assigns one when it stores
      -- a meter, so reads never write. Meters stored before and never read get theirs here.
      INSERT INTO usage_points (meter_key, usage_point_id)
        SELECT meter_key, lower(hex(randomblob(12))) FROM meters
        WHERE meter_key NOT IN (SELECT meter_key FROM usage_points);
    `,
  },
  {
    version: 9,
    sql: `
      -- Households (ESPI RetailCustomers). A gateway starts with one, which owns every meter and
      -- signs in with the administrator's password; ids are never reused (AUTOINCREMENT), so a
      -- RetailCustomer URI never changes hands.
      CREATE TABLE households (
        household_id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        password_hash TEXT,           -- NULL until its setup code is used
        setup_code_hash TEXT,
        setup_code_expires_ms INTEGER,
        export_allowed INTEGER NOT NULL DEFAULT 0, -- exports of its meters, multi-household only
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL
      );
      INSERT INTO households (household_id, name, created_ms, updated_ms)
        VALUES (1, 'Home', CAST(strftime('%s', 'now') AS INTEGER) * 1000,
          CAST(strftime('%s', 'now') AS INTEGER) * 1000);
      -- NULL: unassigned (with one household, it owns every meter regardless).
      ALTER TABLE meters ADD COLUMN household_id INTEGER
        REFERENCES households (household_id) ON DELETE SET NULL;
      CREATE INDEX meters_by_household ON meters (household_id);
      -- NULL: an administrator session.
      ALTER TABLE owner_sessions ADD COLUMN household_id INTEGER
        REFERENCES households (household_id) ON DELETE CASCADE;
      -- The household that granted it; every authorization so far was the one home's. (SQLite
      -- cannot add a REFERENCES column with a non-NULL default: removing a household deletes its
      -- authorizations itself.)
      ALTER TABLE oauth_authorizations ADD COLUMN household_id INTEGER NOT NULL DEFAULT 1;
      CREATE INDEX oauth_authorizations_by_household ON oauth_authorizations (household_id);
    `,
  },
];

/**
 * A database written by a newer openseg: its schema is past the last migration this one knows, so
 * this one cannot know what its tables mean and leaves the file alone.
 */
export class SchemaTooNewError extends Error {
  override name = "SchemaTooNewError";
}

/**
 * Applies every migration newer than the database's `user_version`, each in one transaction.
 * Forward only: a database whose version is past the last migration is refused before anything
 * is written to it (`SchemaTooNewError`).
 */
export function applyMigrations(db: DatabaseSync, migrations: readonly Migration[] = MIGRATIONS) {
  const row = get<{ user_version: number }>(db, "PRAGMA user_version")!;
  const known = migrations.at(-1)?.version ?? 0;
  if (row.user_version > known) {
    throw new SchemaTooNewError(
      `the database was written by a newer openseg (schema version ${row.user_version}; this ` +
        `one knows up to ${known}) and was left untouched: run that newer openseg, or restore ` +
        "a backup taken before it",
    );
  }
  for (const migration of migrations) {
    if (migration.version <= row.user_version) continue;
    const secureDelete = migration.scrub ? pragmaValue(db, "secure_delete") : null;
    if (migration.scrub) db.exec("PRAGMA secure_delete = ON");
    db.exec("BEGIN IMMEDIATE");
    try {
      db.exec(migration.sql);
      // PRAGMA takes no bound parameters; the version is a number from this file.
      db.exec(`PRAGMA user_version = ${Math.trunc(migration.version)}`);
      db.exec("COMMIT");
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    } finally {
      if (secureDelete !== null) db.exec(`PRAGMA secure_delete = ${secureDelete}`);
    }
    // Old frames in the WAL may still hold the removed values: copy back and empty it.
    if (migration.scrub) db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }
}

/** A numeric PRAGMA's current value. */
function pragmaValue(db: DatabaseSync, name: "secure_delete"): number {
  const row = get<Record<string, number>>(db, `PRAGMA ${name}`)!;
  return Math.trunc(Number(row[name]));
}
