import { and, eq } from "drizzle-orm";
import { dataSources, type DataSourceType, type SslMode } from "../db/schema";
import type { Actor, Database } from "../env";
import { connectorFor, type ConnectionSettings, type TestResult } from "../connectors";
import { CURRENT_KEY_VERSION, decryptSecret } from "../lib/crypto";
import { notFound } from "../lib/errors";
import { effectiveSslMode, type TestConnectionInput } from "../schemas/data-source-connection";

export interface TestRunOptions {
  /** `config.allowPrivateNetworkTargets`: development only. */
  allowPrivate: boolean;
  /** `config.testConnectionTimeoutMs`. */
  timeoutMs: number;
  requestId?: string;
  signal?: AbortSignal;
}

interface ConnectionFields {
  host: string;
  port: number;
  database: string;
  username: string;
  password?: string;
  ssl?: SslMode | null;
}

/** The settings a connector receives: exactly the allow-listed fields, SSL mode resolved. */
export function toConnectionSettings(fields: ConnectionFields): ConnectionSettings {
  return {
    host: fields.host,
    port: fields.port,
    database: fields.database,
    username: fields.username,
    ...(fields.password !== undefined && { password: fields.password }),
    ssl: effectiveSslMode(fields.host, fields.ssl),
  };
}

/** `POST /api/data-sources/test-connection`: an ad-hoc test, nothing stored. */
export function testConnection(input: TestConnectionInput, options: TestRunOptions): Promise<TestResult> {
  return connectorFor(input.type).test(toConnectionSettings(input.connection), options);
}

export interface SavedConnection {
  type: DataSourceType;
  connection: ConnectionSettings;
}

// TODO(crud merge): replace with the CRUD service's `getDataSourceWithSecret(db, actor, id, key)`.
/** Reads a saved source of the actor's organization with its decrypted password. */
export async function loadSavedConnection(db: Database, actor: Actor, id: string, key: Uint8Array): Promise<SavedConnection> {
  const [row] = await db
    .select()
    .from(dataSources)
    .where(and(eq(dataSources.id, id), eq(dataSources.organizationId, actor.organizationId)))
    .limit(1);
  if (!row) throw notFound("Data source");
  const password = row.passwordEncrypted
    ? await decryptSecret({ ciphertext: row.passwordEncrypted, keyVersion: row.passwordKeyVersion ?? CURRENT_KEY_VERSION }, key)
    : undefined;
  return {
    type: row.type,
    connection: toConnectionSettings({ ...row, ...(password !== undefined && { password }) }),
  };
}

/** `POST /api/data-sources/:id/test`: tests a saved source with its stored credentials. */
export async function testSavedConnection(
  db: Database,
  actor: Actor,
  id: string,
  key: Uint8Array,
  options: TestRunOptions,
): Promise<TestResult> {
  const saved = await loadSavedConnection(db, actor, id, key);
  return connectorFor(saved.type).test(saved.connection, options);
}
