import type { SslMode } from "../db/schema";
import type { Actor, Database } from "../env";
import { connectorFor, type ConnectionSettings, type TestResult } from "../connectors";
import { getDataSourceWithSecret } from "./data-sources";
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

/** `POST /api/data-sources/:id/test`: tests a saved source with its stored credentials. */
export async function testSavedConnection(
  db: Database,
  actor: Actor,
  id: string,
  key: Uint8Array,
  options: TestRunOptions,
): Promise<TestResult> {
  const saved = await getDataSourceWithSecret(db, actor, id, key);
  const { password, ...connection } = saved.connection;
  return connectorFor(saved.type).test(toConnectionSettings({ ...connection, ...(password !== null && { password }) }), options);
}
