// The built-in sample data source: one well-known id, listed first in every organization's
// GET /api/data-sources, usable by every organization's widgets, never editable. Its rows live
// in their own D1 database (binding SAMPLE_DB), so a query through it cannot reach app data.
import { analyzeSql, bindNamedParams, SqlTextError } from "../lib/sql-text";
import {
  QueryFailure,
  elapsedMs,
  inferColumnType,
  sqlDatetimeToIso,
  toCell,
  type Cell,
  type QueryLimits,
  type TabularResult,
  withinBytes,
} from "../lib/query-result";
import { toBase64 } from "../lib/crypto";

/** The sample source's fixed id: the same in every organization and every deployment. */
export const SAMPLE_DATA_SOURCE_ID = "5a301e00-da7a-4000-8000-000000000001";

/** Bump with scripts/sample-seed.mjs SAMPLE_SEED_VERSION: cached results keyed on the old rows expire. */
export const SAMPLE_DATA_VERSION = "sample-seed-1";

const SAMPLE_TIMESTAMP = "2024-01-01T00:00:00.000Z";

export const isSampleDataSource = (id: string | null | undefined) => id === SAMPLE_DATA_SOURCE_ID;

/** The sample source as it appears in data-source responses (no connection: there is none to show). */
export function sampleDataSourceResponse() {
  return {
    id: SAMPLE_DATA_SOURCE_ID,
    name: "Sample data (built-in)",
    type: "sample" as const,
    readOnly: true,
    description: "A demo online shop, 2024–2025: tables customers, products, orders, order_items",
    createdAt: SAMPLE_TIMESTAMP,
    updatedAt: SAMPLE_TIMESTAMP,
  };
}

// Nothing but reading: a statement-level word from this list anywhere outside literals,
// identifiers and comments refuses the query, even where SQLite would reject it anyway.
const WRITE_WORDS = new Set([
  "INSERT",
  "UPDATE",
  "DELETE",
  "CREATE",
  "DROP",
  "ALTER",
  "ATTACH",
  "DETACH",
  "PRAGMA",
  "VACUUM",
  "REINDEX",
  "ANALYZE",
  "BEGIN",
  "COMMIT",
  "ROLLBACK",
  "SAVEPOINT",
  "RELEASE",
]);

/**
 * Checks and binds a query for the sample database. D1 has no read-only transaction and
 * refuses `PRAGMA query_only` (SQLITE_AUTH), and — worse — `prepare()` runs *every* statement
 * of a multi-statement text. So: the scanner's one-statement, SELECT/WITH-only and no-write-word
 * checks; then the text runs wrapped as a subquery, `SELECT * FROM (<query>) LIMIT ?`, which
 * SQLite can only parse if it is a single SELECT (DML is not allowed in a subquery or a CTE).
 */
export function prepareSampleQuery(query: string, params: Record<string, unknown>, maxRows: number) {
  try {
    const analysis = analyzeSql(query, "sqlite");
    if (analysis.statementCount === 0) throw new QueryFailure("invalid_config", "config.query is empty");
    if (analysis.statementCount > 1) {
      throw new QueryFailure("forbidden_statement", "Only a single statement is allowed");
    }
    if (analysis.firstKeyword !== "SELECT" && analysis.firstKeyword !== "WITH") {
      throw new QueryFailure("forbidden_statement", "The sample data source accepts only SELECT or WITH statements");
    }
    const write = [...analysis.words].find((w) => WRITE_WORDS.has(w));
    if (write) throw new QueryFailure("forbidden_statement", `${write} is not allowed: the sample data source is read-only`);
    const bound = bindNamedParams(analysis, params, "sqlite");
    // The newline keeps a trailing `-- comment` from swallowing the wrapper.
    const text = `SELECT * FROM (\n${bound.text}\n) LIMIT ?${bound.values.length + 1}`;
    const values = [...bound.values.map((v) => (typeof v === "boolean" ? Number(v) : v)), maxRows + 1];
    return { text, values };
  } catch (err) {
    if (err instanceof SqlTextError) {
      throw new QueryFailure(err.code === "forbidden_statement" ? "forbidden_statement" : err.code === "invalid_params" ? "invalid_config" : "query_error", err.message);
    }
    throw err;
  }
}

function timeoutAfter(ms: number): { promise: Promise<never>; cancel: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new QueryFailure("timeout", `The query did not finish within ${ms} ms`)), ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

/** Runs a widget query on the sample database. D1 cannot cancel a statement; the caller stops waiting. */
export async function runSampleQuery(
  sampleDb: D1Database,
  query: string,
  params: Record<string, unknown>,
  limits: QueryLimits,
): Promise<TabularResult> {
  const { text, values } = prepareSampleQuery(query, params, limits.maxRows);
  const started = performance.now();
  const timeout = timeoutAfter(limits.timeoutMs);
  let raw: unknown[][];
  try {
    raw = await Promise.race([sampleDb.prepare(text).bind(...values).raw({ columnNames: true }), timeout.promise]);
  } catch (err) {
    if (err instanceof QueryFailure) throw err;
    // D1 reports the statement's own errors with SQLite's result code; anything else (a lost
    // connection, an overloaded or unavailable database) is the database failing, not the SQL.
    if (!isSqliteError(err)) {
      throw new QueryFailure("data_source_unavailable", "The sample database did not answer", err instanceof Error ? err.message : String(err));
    }
    throw new QueryFailure("query_error", d1Message(err));
  } finally {
    timeout.cancel();
  }
  const durationMs = elapsedMs(started);
  const [names = [], ...all] = raw as [string[], ...unknown[][]];
  const truncated = all.length > limits.maxRows;
  const data = truncated ? all.slice(0, limits.maxRows) : all;
  const columns = names.map((name, i) => ({ name, type: inferColumnType(data.map((row) => row[i])) }));
  const converted: Cell[][] = data.map((row) =>
    row.map((value, i) => {
      const type = columns[i]?.type;
      // D1 hands BLOBs over as arrays of byte values.
      if (type === "bytes" && Array.isArray(value)) return toBase64(Uint8Array.from(value as number[]));
      if (type === "datetime" && typeof value === "string") return sqlDatetimeToIso(value);
      return toCell(value);
    }),
  );
  const sized = withinBytes(converted, limits.maxBytes);
  const rows = sized.rows;
  return { columns, rows, rowCount: rows.length, truncated: truncated || sized.cut, durationMs };
}

const SQLITE_CODE = /:\s*SQLITE_[A-Z_]+$/;
const isSqliteError = (err: unknown) => SQLITE_CODE.test(err instanceof Error ? err.message : String(err));

/** D1's messages carry a `D1_ERROR: ` prefix and an `: SQLITE_ERROR` suffix; the middle is the useful part. */
function d1Message(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(/^D1_ERROR:\s*/, "").replace(SQLITE_CODE, "").replace(/ at offset \d+/, "");
}

/** POST /api/data-sources/:id/test for the sample: a round trip to its database. */
export async function testSampleSource(sampleDb: D1Database) {
  const started = performance.now();
  try {
    await sampleDb.prepare("SELECT 1").first();
    return { success: true as const, message: "Connection successful" as const, latencyMs: elapsedMs(started), serverVersion: "Cloudflare D1 (built-in sample data)" };
  } catch {
    return { success: false as const, code: "unknown" as const, message: "The sample database did not answer", details: [] };
  }
}
