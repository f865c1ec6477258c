// The shape every data source's query result takes, the per-widget error codes, and the
// conversions that make any database value safe to put in JSON.
import { toBase64 } from "./crypto";

/**
 * Column types as a client draws them, the same words for every database:
 * `bigint` and `decimal` values are strings (beyond a JS number's exact range), `date` is
 * `YYYY-MM-DD`, `datetime` ISO 8601 UTC, `bytes` base64, `json` any JSON value.
 */
export const COLUMN_TYPES = [
  "boolean",
  "integer",
  "number",
  "bigint",
  "decimal",
  "string",
  "date",
  "datetime",
  "time",
  "json",
  "bytes",
  "unknown",
] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

export interface Column {
  name: string;
  type: ColumnType;
}

export type Cell = string | number | boolean | null | Record<string, unknown> | unknown[];

/** A widget query's answer: what `data` holds on success, less `cachedAt`. */
export interface TabularResult {
  columns: Column[];
  rows: Cell[][];
  rowCount: number;
  truncated: boolean;
  durationMs: number;
}

/** What a widget's `data` holds: a result (with when it was cached, or null if fresh) or an error. */
export type WidgetDataResult = (TabularResult & { cachedAt: string | null }) | { error: { code: WidgetDataErrorCode; message: string } };

export const WIDGET_DATA_ERROR_CODES = [
  /** config.query missing or not text, config.params malformed. */
  "invalid_config",
  /** The database refused the SQL (syntax, unknown table, a missing :param value, ...). */
  "query_error",
  /** Not a single read-only statement: several statements, DML/DDL, or a write the read-only transaction refused. */
  "forbidden_statement",
  /** The statement timeout, or the dashboard's overall deadline, passed first. */
  "timeout",
  /** The source could not be reached or refused the login, or no longer exists. */
  "data_source_unavailable",
  /** The widget has a query but no data source. */
  "no_data_source",
  "internal_error",
] as const;
export type WidgetDataErrorCode = (typeof WIDGET_DATA_ERROR_CODES)[number];

/**
 * The one error type of the query layer; it becomes `{ error: { code, message } }` on its widget.
 * `message` is shown to the dashboard's members; `detail` (a driver's words, which may name hosts
 * and users) only goes to the logs.
 */
export class QueryFailure extends Error {
  override name = "QueryFailure";
  constructor(
    readonly code: WidgetDataErrorCode,
    message: string,
    readonly detail?: string,
  ) {
    super(message);
  }
}

export interface QueryLimits {
  /** Statement timeout. */
  timeoutMs: number;
  /** Rows returned at most; `truncated` says whether there were more. */
  maxRows: number;
  /** Bytes of JSON rows returned at most (checked as rows arrive, so wide rows stop reading early). */
  maxBytes: number;
}

/** A row's size in JSON, near enough to bound memory (a Cell is always JSON-safe). */
export const rowBytes = (row: Cell[]) => JSON.stringify(row).length + 1;

/** The leading rows that fit in `maxBytes`, and whether any were left out. */
export function withinBytes(rows: Cell[][], maxBytes: number): { rows: Cell[][]; cut: boolean } {
  let total = 0;
  for (let i = 0; i < rows.length; i++) {
    total += rowBytes(rows[i]!);
    if (total > maxBytes) return { rows: rows.slice(0, i), cut: true };
  }
  return { rows, cut: false };
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const SQL_DATETIME = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d+)?)(Z|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * `2024-01-02 10:00:00[.ffffff][+hh[:mm]]` to ISO 8601 UTC. A value without an offset (SQL
 * `timestamp`/`DATETIME`) is taken as UTC. Values no date can represent stay as the database wrote them.
 */
export function sqlDatetimeToIso(text: string): string {
  const m = SQL_DATETIME.exec(text);
  if (!m) return text;
  const [, date, time, offset] = m;
  // At least milliseconds, like every other timestamp of the API; finer digits are kept.
  const clock = /\.\d{3,}$/.test(time!) ? time! : /\./.test(time!) ? time!.padEnd(12, "0") : `${time}.000`;
  if (!offset || offset === "Z" || /^[+-]00(:?00)?$/.test(offset)) return `${date}T${clock}Z`;
  const parsed = new Date(`${date}T${time!.slice(0, 12)}${offset.length === 3 ? `${offset}:00` : offset}`);
  return Number.isNaN(parsed.getTime()) ? text : parsed.toISOString();
}

/** Any driver value as JSON: bigint/decimal text stays text, dates become ISO, bytes base64. */
export function toCell(value: unknown): Cell {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      // JSON has no NaN or Infinity.
      return Number.isFinite(value) ? value : String(value);
    case "bigint":
      return value.toString();
    case "object":
      if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
      if (value instanceof Uint8Array) return toBase64(value);
      if (value instanceof ArrayBuffer) return toBase64(new Uint8Array(value));
      if (Array.isArray(value)) return value.map(toCell);
      return JSON.parse(JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v))) as Record<string, unknown>;
    default:
      return String(value);
  }
}

/** A column type from the values alone (SQLite/D1 reports none). */
export function inferColumnType(values: Iterable<unknown>): ColumnType {
  let type: ColumnType | null = null;
  const merge = (t: ColumnType) => {
    if (type === null || type === t) type = t;
    else if ((type === "integer" && t === "number") || (type === "number" && t === "integer")) type = "number";
    else if ((type === "date" && t === "datetime") || (type === "datetime" && t === "date")) type = "string";
    else type = type === "string" || t === "string" ? "string" : "unknown";
  };
  for (const v of values) {
    if (v === null || v === undefined) continue;
    if (typeof v === "number") merge(Number.isInteger(v) ? "integer" : "number");
    else if (typeof v === "boolean") merge("boolean");
    else if (typeof v === "string") merge(ISO_DATE.test(v) ? "date" : SQL_DATETIME.test(v) ? "datetime" : "string");
    else if (Array.isArray(v) || v instanceof ArrayBuffer || v instanceof Uint8Array) merge("bytes");
    else merge("unknown");
  }
  return type ?? "unknown";
}

/** Milliseconds since `start` (a `performance.now()`), rounded: the result's `durationMs`. */
export const elapsedMs = (start: number) => Math.max(0, Math.round(performance.now() - start));
