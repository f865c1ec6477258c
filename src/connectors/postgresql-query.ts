// Widget queries on PostgreSQL (postgres.js). Every query runs alone in a READ ONLY
// transaction with a transaction-local statement_timeout, through the extended protocol
// (which refuses a text holding several commands) and a cursor that stops after the row cap.
import net from "node:net";
import postgres from "postgres";
import type { SslMode } from "../db/schema";
import { QueryFailure, elapsedMs, sqlDatetimeToIso, toCell, type ColumnType, type QueryLimits, type QueryResult } from "../lib/query-result";
import { analyzeSql, bindNamedParams, SqlTextError } from "../lib/sql-text";

export interface QueryConnection {
  host: string;
  port: number;
  database: string;
  username: string;
  password: string | null;
  ssl: SslMode;
}

/** Connections to one data source for the widgets of one request; `close` ends them. */
export interface QuerySession {
  run(query: string, params: Record<string, unknown>, limits: QueryLimits): Promise<QueryResult>;
  close(): Promise<void>;
}

export interface SessionOptions {
  /** At most this many connections at once (Workers allows six open sockets per request). */
  maxConnections: number;
  connectTimeoutMs: number;
}

/** First words a read query can start with; anything else is refused before it is sent. */
export const READ_STATEMENTS = {
  postgresql: new Set(["SELECT", "WITH", "VALUES", "TABLE", "SHOW", "EXPLAIN"]),
  mysql: new Set(["SELECT", "WITH", "VALUES", "TABLE", "SHOW", "EXPLAIN", "DESCRIBE", "DESC"]),
} as const;

/** The scanner's checks shared by the external databases: one statement, a reading first word. */
export function checkReadStatement(query: string, dialect: "postgresql" | "mysql", params: Record<string, unknown>) {
  try {
    const analysis = analyzeSql(query, dialect);
    if (analysis.statementCount === 0) throw new QueryFailure("invalid_config", "config.query is empty");
    if (analysis.statementCount > 1) throw new QueryFailure("forbidden_statement", "Only a single statement is allowed");
    if (!READ_STATEMENTS[dialect].has(analysis.firstKeyword)) {
      throw new QueryFailure(
        "forbidden_statement",
        `Only read statements (${[...READ_STATEMENTS[dialect]].join(", ")}) are allowed, not ${analysis.firstKeyword || "this statement"}`,
      );
    }
    return { analysis, bound: bindNamedParams(analysis, params, dialect) };
  } catch (err) {
    if (err instanceof SqlTextError) {
      throw new QueryFailure(
        err.code === "forbidden_statement" ? "forbidden_statement" : err.code === "invalid_params" ? "invalid_config" : "query_error",
        err.message,
      );
    }
    throw err;
  }
}

// Type OIDs (pg_type) to the API's column types; any other type arrives as its text form.
const PG_TYPES: Record<number, ColumnType> = {
  16: "boolean",
  17: "bytes",
  20: "bigint",
  21: "integer",
  23: "integer",
  26: "integer",
  114: "json",
  3802: "json",
  700: "number",
  701: "number",
  1700: "decimal",
  1082: "date",
  1114: "datetime",
  1184: "datetime",
  1083: "time",
  1266: "time",
};

const keepText = { serialize: (x: unknown) => String(x), parse: (x: string) => x };

/** Opens (lazily) up to `maxConnections` connections to one PostgreSQL source. */
export function openPostgresSession(connection: QueryConnection, options: SessionOptions): QuerySession {
  const plain = connection.ssl === "disable";
  const sql = postgres({
    host: connection.host,
    port: connection.port,
    database: connection.database,
    username: connection.username,
    password: connection.password ?? undefined,
    ssl: connection.ssl === "disable" ? false : connection.ssl,
    max: options.maxConnections,
    connect_timeout: Math.max(1, Math.ceil(options.connectTimeoutMs / 1000)),
    idle_timeout: 5,
    // No extra catalog round trip per connection, and nothing cached between widgets.
    fetch_types: false,
    prepare: false,
    // Timestamps come back in UTC; dates and times stay as PostgreSQL writes them.
    connection: { TimeZone: "UTC", application_name: "edgeboard-widget" },
    onnotice: () => {},
    types: {
      date: { to: 1082, from: [1082, 1083, 1266], ...keepText },
      timestamp: { to: 1114, from: [1114, 1184], serialize: (x: unknown) => String(x), parse: sqlDatetimeToIso },
    },
    // Plain TCP through node:net: postgres.js's own Workers socket shim throws an unhandled
    // rejection when a connection it closed is read again. TLS keeps the library's path.
    ...(plain && {
      socket: () =>
        new Promise<net.Socket>((resolve, reject) => {
          const socket = net.connect(connection.port, connection.host);
          socket.once("connect", () => resolve(socket));
          socket.once("error", reject);
        }),
    }),
  });

  return {
    async run(query, params, limits) {
      const { bound } = checkReadStatement(query, "postgresql", params);
      const started = performance.now();
      try {
        return await sql.begin("read only", async (tx) => {
          await tx.unsafe(`SET LOCAL statement_timeout = ${Math.floor(limits.timeoutMs)}`);
          // `.values()`: rows as arrays by column position (two columns may share a name).
          const pending = tx.unsafe(bound.text, bound.values as postgres.ParameterOrJSON<never>[], { prepare: false }).values();
          let batch: unknown[][] = [];
          // One batch of cap + 1 rows tells whether there are more; leaving the loop closes the portal.
          for await (const rows of pending.cursor(limits.maxRows + 1)) {
            batch = rows as unknown as unknown[][];
            break;
          }
          const described = (batch as unknown as { columns?: postgres.ColumnList<string> }).columns ??
            (pending as unknown as { statement?: { columns?: postgres.ColumnList<string> } }).statement?.columns ??
            [];
          const columns = described.map((c) => ({ name: c.name, type: PG_TYPES[c.type] ?? ("string" as ColumnType) }));
          const truncated = batch.length > limits.maxRows;
          const kept = truncated ? batch.slice(0, limits.maxRows) : batch;
          const rows = kept.map((row) => row.map(toCell));
          return { columns, rows, rowCount: rows.length, truncated, durationMs: elapsedMs(started) };
        });
      } catch (err) {
        throw postgresFailure(err, limits);
      }
    },
    async close() {
      await sql.end({ timeout: 1 }).catch(() => {});
    },
  };
}

/** A database or driver error as a per-widget failure, without leaking connection details. */
export function postgresFailure(err: unknown, limits: QueryLimits): QueryFailure {
  if (err instanceof QueryFailure) return err;
  const e = err as { code?: string; message?: string; severity?: string };
  const message = e.message ?? String(err);
  const code = e.code ?? "";
  if (code === "57014") return new QueryFailure("timeout", `The query did not finish within ${limits.timeoutMs} ms`);
  if (code === "25006") return new QueryFailure("forbidden_statement", `Refused by the read-only transaction: ${message}`);
  if (code === "42601" && /multiple commands/i.test(message)) {
    return new QueryFailure("forbidden_statement", "Only a single statement is allowed");
  }
  // Class 28 (authorization), 3D000 (no such database), 08 (connection), 53/57P (server state), driver errors.
  if (/^(28|08|53|57P)/.test(code) || code === "3D000" || !e.severity) {
    return new QueryFailure("data_source_unavailable", "Could not connect to or log in to the data source", message);
  }
  return new QueryFailure("query_error", message);
}
