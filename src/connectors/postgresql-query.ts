// Widget queries on a PostgreSQL session (the connector's postgres.js instance, one connection):
// a READ ONLY transaction with a transaction-local statement_timeout, the extended protocol
// (which refuses a text holding several commands) and a cursor that stops after the row cap.
// The transaction is always rolled back: READ ONLY still lets a few things through (large
// objects via lo_create/lo_from_bytea, pg_notify, session-level set_config), and a rollback
// discards them all.
import type postgres from "postgres";
import { QueryFailure, elapsedMs, rowBytes, sqlDatetimeToIso, toCell, type Cell, type ColumnType, type QueryLimits, type TabularResult } from "../lib/query-result";
import { checkReadStatement } from "./read-statement";

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

const asText = (x: unknown) => String(x);

/** Rows per cursor fetch: small enough that wide rows stop near the byte cap, not 5,000 rows past it. */
const FETCH_ROWS = 250;

/** Thrown out of sql.begin() to make it ROLLBACK instead of COMMIT; carries the result out. */
class RollbackWith {
  constructor(readonly result: TabularResult) {}
}

/**
 * Parsers for the connector's postgres() options: dates and times stay as PostgreSQL writes them
 * (a JS Date would shift a `date` by the time zone), timestamps become ISO 8601 UTC strings.
 */
export const PG_READ_TYPES = {
  dateText: { to: 1082, from: [1082, 1083, 1266], serialize: asText, parse: (x: string) => x },
  timestampIso: { to: 1114, from: [1114, 1184], serialize: asText, parse: sqlDatetimeToIso },
};

export async function runPostgresRead(
  sql: postgres.Sql<any>,
  query: string,
  params: Record<string, unknown>,
  limits: QueryLimits,
): Promise<TabularResult> {
  const { bound } = checkReadStatement(query, "postgresql", params);
  const started = performance.now();
  try {
    await sql.begin("read only", async (tx) => {
      await tx.unsafe(`SET LOCAL statement_timeout = ${Math.floor(limits.timeoutMs)}`);
      // `.values()`: rows as arrays by column position (two columns may share a name).
      const pending = tx.unsafe(bound.text, bound.values as postgres.ParameterOrJSON<never>[], { prepare: false }).values();
      let first: unknown[][] | undefined;
      const rows: Cell[][] = [];
      let bytes = 0;
      let truncated = false;
      // Fetch until a row past the cap (or past the byte budget) shows there are more; leaving
      // the loop closes the portal.
      fetching: for await (const batch of pending.cursor(Math.min(FETCH_ROWS, limits.maxRows + 1))) {
        first ??= batch as unknown as unknown[][];
        for (const raw of batch as unknown as unknown[][]) {
          const row = raw.map(toCell);
          bytes += rowBytes(row);
          if (rows.length === limits.maxRows || bytes > limits.maxBytes) {
            truncated = true;
            break fetching;
          }
          rows.push(row);
        }
      }
      const described =
        (first as unknown as { columns?: postgres.ColumnList<string> } | undefined)?.columns ??
        (pending as unknown as { statement?: { columns?: postgres.ColumnList<string> } }).statement?.columns ??
        [];
      const columns = described.map((c) => ({ name: c.name, type: PG_TYPES[c.type] ?? ("string" as ColumnType) }));
      throw new RollbackWith({ columns, rows, rowCount: rows.length, truncated, durationMs: elapsedMs(started) });
    });
    throw new Error("the read transaction ended without a result");
  } catch (err) {
    if (err instanceof RollbackWith) return err.result;
    throw postgresReadFailure(err, limits);
  }
}

/** A server or driver error during a read as a per-widget failure; driver words go to `detail`. */
export function postgresReadFailure(err: unknown, limits: QueryLimits): QueryFailure {
  if (err instanceof QueryFailure) return err;
  const e = err as { code?: string; message?: string; severity?: string };
  const message = e.message ?? String(err);
  const code = e.code ?? "";
  if (code === "57014") return new QueryFailure("timeout", `The query did not finish within ${limits.timeoutMs} ms`);
  if (code === "25006") return new QueryFailure("forbidden_statement", `Refused by the read-only transaction: ${message}`);
  if (code === "42601" && /multiple commands/i.test(message)) {
    return new QueryFailure("forbidden_statement", "Only a single statement is allowed");
  }
  // Class 08 (connection), 53/57P (server state) and errors that are not the server's (no severity).
  if (/^(08|53|57P)/.test(code) || !e.severity) {
    return new QueryFailure("data_source_unavailable", "The connection to the data source failed during the query", message);
  }
  return new QueryFailure("query_error", message);
}
