import { drizzle } from "drizzle-orm/d1";
import type { Database } from "../env";
import * as schema from "./schema";

// One Drizzle instance per D1 binding, kept for the isolate's life: building one walks the whole
// schema (its relational config), a measurable share of a request's CPU when done per request.
// It holds no request state (the D1 binding is the same object for every request).
const instances = new WeakMap<D1Database, Database>();

/** The Drizzle database over a D1 binding. */
export function databaseFor(d1: D1Database): Database {
  let db = instances.get(d1);
  if (!db) {
    db = drizzle(d1, { schema });
    instances.set(d1, db);
  }
  return db;
}
