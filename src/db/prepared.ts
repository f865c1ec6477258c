import { fillPlaceholders, type Query } from "drizzle-orm";
import type { SQLitePreparedQuery } from "drizzle-orm/sqlite-core";
import type { Database } from "../env";

/** A query builder drizzle can prepare (select, insert, update, delete). */
interface Preparable {
  prepare(): unknown;
}

// What a drizzle D1 batch asks of each of its items, and of the prepared query it gets.
type Prepared = SQLitePreparedQuery<never> & { getQuery(): Query };
interface BatchItem {
  _prepare(): Prepared;
}

/**
 * A query for the hot read paths whose SQL is built once per isolate and shape, not per request.
 * Drizzle builds a query's SQL anew each time (a real share of a request's CPU, three queries per
 * read); here `build` runs once per shape with `sql.placeholder(name)` where the values go, and
 * each call only binds `values` to the already prepared D1 statement.
 *
 * What a call returns is for `db.batch([...])` only (typed as the builder, so the batch's result
 * types come out right): it is not a builder to chain further or to await by itself.
 */
export function prepared<Shape extends string, Q extends Preparable>(build: (db: Database, shape: Shape) => Q) {
  // Per D1 binding (a request's db may be a per-request view of the shared one: same client).
  const cache = new WeakMap<object, Map<Shape, Prepared>>();
  return (db: Database, shape: Shape, values: Record<string, unknown>): Q => {
    let shapes = cache.get(db.$client);
    if (!shapes) cache.set(db.$client, (shapes = new Map()));
    let query = shapes.get(shape);
    if (!query) shapes.set(shape, (query = build(db, shape).prepare() as Prepared));
    const base = query;
    const bound: Query = { ...base.getQuery(), params: fillPlaceholders(base.getQuery().params, values) };
    // The shared prepared query with this request's values: statement and row mapping inherited.
    const view = Object.create(base) as Prepared;
    view.getQuery = () => bound;
    const item: BatchItem = { _prepare: () => view };
    return item as unknown as Q;
  };
}
