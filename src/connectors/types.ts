import type { DataSourceType, SslMode } from "../db/schema";

// One connector per database type. A connector opens sessions (used by the connection test
// now, and by widget-data queries later) and classifies every failure into a code a person
// can act on, so no caller sees raw driver errors.

/** Where and as whom to connect. `ssl` is already resolved (see `effectiveSslMode`). */
export interface ConnectionSettings {
  host: string;
  port: number;
  database: string;
  username: string;
  password?: string;
  ssl: SslMode;
}

export interface ConnectOptions {
  /** Bound for opening the connection (TCP, TLS, authentication). */
  timeoutMs: number;
  /** Aborting closes the sockets and fails with `timeout`. */
  signal?: AbortSignal;
  /**
   * Development only: allow loopback/private hosts. Required so no caller can forget the
   * SSRF guard: connectors check the host themselves before opening a socket.
   */
  allowPrivate: boolean;
}

export interface TestOptions extends ConnectOptions {
  /** Logged with `unknown` failures so they can be found from the response's X-Request-Id. */
  requestId?: string;
}

export interface QueryResult {
  columns: string[];
  rows: Record<string, unknown>[];
}

/** An open connection. Always `close()` it (in a `finally`); closing twice is harmless. */
export interface Session {
  /** The server's product and version, e.g. "PostgreSQL 15.4" or "10.11.6-MariaDB". */
  serverVersion(): Promise<string>;
  /** Runs one statement with positional parameters (`$1` for PostgreSQL, `?` for MySQL). */
  query(sql: string, params?: readonly unknown[]): Promise<QueryResult>;
  close(): Promise<void>;
}

export const FAILURE_CODES = [
  "auth_failed",
  "database_not_found",
  "host_not_found",
  "connection_refused",
  "timeout",
  "ssl_required",
  "ssl_failed",
  "host_not_allowed",
  "unknown",
] as const;
export type FailureCode = (typeof FAILURE_CODES)[number];

export interface FailureDetail {
  field: string;
  message: string;
}

export interface TestSuccess {
  success: true;
  message: "Connection successful";
  latencyMs: number;
  serverVersion: string;
}

export interface TestFailure {
  success: false;
  code: FailureCode;
  message: string;
  details: FailureDetail[];
}

export type TestResult = TestSuccess | TestFailure;

/**
 * A classified connection failure. `message` is written for a person and safe to return;
 * the driver's own error stays in `cause` for logs only.
 */
export class ConnectionFailure extends Error {
  override name = "ConnectionFailure";

  constructor(
    readonly code: FailureCode,
    message: string,
    readonly details: FailureDetail[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  toResult(): TestFailure {
    return { success: false, code: this.code, message: this.message, details: this.details };
  }
}

export interface Connector {
  readonly type: DataSourceType;
  /** Opens a session or throws `ConnectionFailure`. */
  connect(connection: ConnectionSettings, options: ConnectOptions): Promise<Session>;
  /** Connects, reads the server version and closes, all within `timeoutMs`. Never throws. */
  test(connection: ConnectionSettings, options: TestOptions): Promise<TestResult>;
}
