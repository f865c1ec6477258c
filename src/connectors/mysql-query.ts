// Widget queries on a MySQL/MariaDB session (the connector's mysql2 connection). Each query
// runs alone in a `START TRANSACTION READ ONLY` with the server's statement timeout set for the
// session (MySQL `max_execution_time`, MariaDB `max_statement_time`), as a server-side prepared
// statement (the binary protocol takes exactly one statement; `multipleStatements` stays off),
// streamed so that reading stops after the row cap. Then ROLLBACK.
import type mysql from "mysql2";
import { QueryFailure, elapsedMs, sqlDatetimeToIso, toCell, withinBytes, type Cell, type ColumnType, type QueryLimits, type TabularResult } from "../lib/query-result";
import { checkReadStatement } from "./read-statement";

// mysql2 column type codes (protocol ColumnType) to the API's column types.
const MYSQL_TYPES: Record<number, ColumnType> = {
  0: "decimal",
  1: "integer",
  2: "integer",
  3: "integer",
  4: "number",
  5: "number",
  6: "unknown",
  7: "datetime",
  8: "bigint",
  9: "integer",
  10: "date",
  11: "time",
  12: "datetime",
  13: "integer",
  14: "date",
  16: "bytes",
  245: "json",
  246: "decimal",
  255: "bytes",
};
const BINARY_CHARSET = 63;
const STRING_TYPES = new Set([15, 249, 250, 251, 252, 253, 254]);

interface FieldInfo {
  name: string;
  columnType: number;
  characterSet: number;
}

function columnType(field: FieldInfo): ColumnType {
  if (STRING_TYPES.has(field.columnType)) return field.characterSet === BINARY_CHARSET ? "bytes" : "string";
  return MYSQL_TYPES[field.columnType] ?? "string";
}

// MySQL's "SELECT ... INTO OUTFILE/DUMPFILE" writes a file on the server even in a read-only transaction.
const FILE_WRITES = ["OUTFILE", "DUMPFILE"];

/** The callback-style connection under a mysql2/promise one (streaming needs its events). */
export type CoreConnection = mysql.Connection & { _isMariaDB?: boolean };

const plainQuery = (conn: CoreConnection, text: string) =>
  new Promise<void>((resolve, reject) => conn.query(text, (err) => (err ? reject(err) : resolve())));

/**
 * Runs a widget query on `conn`. `abandoned` is true when reading stopped mid-result (the row
 * cap): the connection is then left mid-stream and must be closed, not reused.
 */
export async function runMysqlRead(
  conn: CoreConnection,
  query: string,
  params: Record<string, unknown>,
  limits: QueryLimits,
): Promise<{ result: TabularResult; abandoned: boolean }> {
  const { analysis, bound } = checkReadStatement(query, "mysql", params);
  const fileWrite = FILE_WRITES.find((w) => analysis.words.has(w));
  if (fileWrite) throw new QueryFailure("forbidden_statement", `INTO ${fileWrite} is not allowed`);
  try {
    const timeout = conn._isMariaDB
      ? `max_statement_time = ${limits.timeoutMs / 1000}`
      : `max_execution_time = ${Math.floor(limits.timeoutMs)}`;
    await plainQuery(conn, `SET SESSION time_zone = '+00:00', ${timeout}`);
    await plainQuery(conn, "START TRANSACTION READ ONLY");
    const started = performance.now();
    const streamed = await streamRows(conn, bound.text, bound.values, limits);
    if (!streamed.truncated) await plainQuery(conn, "ROLLBACK");
    const columns = streamed.fields.map((f) => ({ name: f.name, type: columnType(f) }));
    // The stream stopped near the byte budget (by its estimate); the exact cut is made on the cells.
    const sized = withinBytes(
      streamed.rows.map((row) => row.map((value, i) => cell(value, columns[i]?.type))),
      limits.maxBytes,
    );
    const rows = sized.rows;
    // MariaDB's JSON is LONGTEXT on the wire, but mysql2 recognises and parses it.
    columns.forEach((c, i) => {
      if (c.type === "string" && rows.some((r) => r[i] !== null && typeof r[i] === "object")) c.type = "json";
    });
    const result = { columns, rows, rowCount: rows.length, truncated: streamed.truncated || sized.cut, durationMs: elapsedMs(started) };
    return { result, abandoned: streamed.truncated };
  } catch (err) {
    const failure = mysqlReadFailure(err, limits);
    if (failure.code !== "data_source_unavailable" && failure.code !== "timeout") await plainQuery(conn, "ROLLBACK").catch(() => {});
    throw failure;
  }
}

function cell(value: unknown, type: ColumnType | undefined): Cell {
  if (type === "datetime" && typeof value === "string") return sqlDatetimeToIso(value);
  if (type === "json" && typeof value === "string") {
    try {
      return JSON.parse(value) as Cell;
    } catch {
      return value;
    }
  }
  return toCell(value);
}

/**
 * A raw row's JSON size from below (strings and base64 only grow as cells), so that stopping
 * when it passes the budget means the exact cut on the cells drops a row: truncated is true.
 */
function estimatedBytes(row: unknown[]): number {
  let n = 1;
  for (const v of row) {
    if (typeof v === "string") n += v.length + 1;
    else if (v instanceof Uint8Array) n += Math.ceil(v.byteLength / 3) * 4 + 1;
    else n += 2;
  }
  return n;
}

/** Reads at most cap + 1 rows of the statement's result; past that the connection is dropped. */
function streamRows(conn: CoreConnection, text: string, values: unknown[], limits: QueryLimits) {
  return new Promise<{ fields: FieldInfo[]; rows: unknown[][]; truncated: boolean }>((resolve, reject) => {
    let fields: FieldInfo[] = [];
    const rows: unknown[][] = [];
    let bytes = 0;
    let settled = false;
    // The server's timeout should fire first; this one catches a server that never answers.
    const guard = setTimeout(() => {
      settled = true;
      reject(new QueryFailure("timeout", `The query did not finish within ${limits.timeoutMs} ms`));
    }, limits.timeoutMs + 2_000);
    const finish = (truncated: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(guard);
      resolve({ fields, rows, truncated });
    };
    const command = conn.execute({ sql: text, rowsAsArray: true }, values as never);
    command
      .on("fields", (f: FieldInfo[] | undefined) => {
        fields = f ?? [];
      })
      .on("result", (row: unknown) => {
        if (settled) return;
        if (!Array.isArray(row)) return; // a non-SELECT's OK packet
        if (rows.length === limits.maxRows) return finish(true);
        rows.push(row);
        bytes += estimatedBytes(row);
        // One row past the budget is kept, so the exact cut on the cells still sees there was more.
        if (bytes > limits.maxBytes) return finish(true);
      })
      .on("error", (err: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(guard);
        reject(err);
      })
      .on("end", () => finish(false));
  });
}

/** A server or driver error during a read as a per-widget failure; driver words go to `detail`. */
export function mysqlReadFailure(err: unknown, limits: QueryLimits): QueryFailure {
  if (err instanceof QueryFailure) return err;
  const e = err as { errno?: number; code?: string; message?: string; fatal?: boolean; sqlState?: string };
  const message = e.message ?? String(err);
  // 3024 MySQL max_execution_time, 1969 MariaDB max_statement_time, 1317 query interrupted.
  if (e.errno === 3024 || e.errno === 1969 || e.errno === 1317) {
    return new QueryFailure("timeout", `The query did not finish within ${limits.timeoutMs} ms`);
  }
  if (e.errno === 1792) return new QueryFailure("forbidden_statement", `Refused by the read-only transaction: ${message}`);
  // No errno: a network or driver error; `fatal`: the connection is gone.
  if (e.errno === undefined || e.fatal) {
    return new QueryFailure("data_source_unavailable", "The connection to the data source failed during the query", message);
  }
  return new QueryFailure("query_error", message);
}
