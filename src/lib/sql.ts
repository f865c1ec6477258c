import { asc, desc, type SQL } from "drizzle-orm";
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

/** Escapes LIKE wildcards in user text (used with `ESCAPE '\'`). */
export const escapeLike = (value: string) => value.replace(/[\\%_]/g, (ch) => `\\${ch}`);
