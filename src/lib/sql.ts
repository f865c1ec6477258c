import { asc, desc, sql, type SQL } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";

/** ORDER BY the chosen column (or expression), then by id in the same direction, so pages never overlap. */
export function orderWithTieBreak(column: SQLiteColumn | SQL, id: SQLiteColumn, direction: "asc" | "desc"): SQL[] {
  const dir = direction === "asc" ? asc : desc;
  return [dir(column), dir(id)];
}

/** True for D1's error when a UNIQUE constraint rejects a write. */
export function isUniqueViolation(err: unknown): boolean {
  const text = err instanceof Error ? `${err.message} ${String((err as { cause?: unknown }).cause ?? "")}` : String(err);
  return /UNIQUE constraint failed/i.test(text);
}

/**
 * `column` holds `text` as a substring, ignoring ASCII case (SQLite's lower() folds ASCII only).
 * Not LIKE: D1 refuses a pattern over 50 bytes (a long search was a 500), a NUL cut the pattern
 * short (matching everything), and instr() has no wildcards that need escaping.
 */
export const containsText = (column: SQLiteColumn, text: string): SQL => sql`instr(lower(${column}), lower(${text})) > 0`;
