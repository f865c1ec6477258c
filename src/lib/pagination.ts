import { count, type InferSelectModel, type SQL } from "drizzle-orm";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import { z } from "zod";
import type { Database } from "../env";
import type { Statement } from "../services/events";

export const paginationQuery = {
  page: z.coerce.number().int().min(1).max(1_000_000).default(1).describe("Page number, from 1"),
  limit: z.coerce.number().int().min(1).max(100).default(20).describe("Items per page"),
};

export const pageMeta = z
  .object({
    total: z.number().int().min(0).describe("Items matching the filters, on all pages"),
    page: z.number().int().min(1),
    limit: z.number().int().min(1).max(100),
    pages: z.number().int().min(0).describe("ceil(total / limit)"),
  })
  .describe("Where this page sits in the whole list");

/** The list envelope every paginated route answers with. */
export const pageSchema = <T extends z.ZodType>(item: T) => z.object({ data: z.array(item), meta: pageMeta });

export type Page<T> = { data: T[]; meta: z.output<typeof pageMeta> };

export function pageOf<T>(data: T[], total: number, page: number, limit: number): Page<T> {
  return { data, meta: { total, page, limit, pages: Math.ceil(total / limit) } };
}

export const offsetOf = (page: number, limit: number) => (page - 1) * limit;

export interface PageOptions {
  /** Statements (an existence check, say) run in the same batch; their results come back in order. */
  extra?: Statement[];
  /** The page query, already built (src/db/prepared.ts), in place of one from `where`, `orderBy` and `window`. */
  page?: Statement;
  /**
   * A query answering `[{ total }]` in place of `count(*)` over `where` (which reads every
   * matching row): e.g. a stored counter.
   */
  total?: Statement;
}

/** One page of a table and the total behind it, in a single D1 round trip (one batch). */
export async function selectPage<T extends SQLiteTable>(
  db: Database,
  table: T,
  where: SQL | undefined,
  orderBy: SQL[],
  window: { limit: number; offset: number },
  { extra = [], page, total }: PageOptions = {},
): Promise<{ rows: InferSelectModel<T>[]; total: number; extra: unknown[] }> {
  const results = (await db.batch([
    page ?? db.select().from(table as SQLiteTable).where(where).orderBy(...orderBy).limit(window.limit).offset(window.offset),
    total ?? db.select({ total: count() }).from(table as SQLiteTable).where(where),
    ...extra,
  ])) as unknown[];
  const [rows, totals] = results as [InferSelectModel<T>[], { total: number }[]];
  return { rows, total: totals[0]?.total ?? 0, extra: results.slice(2) };
}
