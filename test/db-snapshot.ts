// One organization's rows in D1, table by table, as a count and a hash: taken before and after a
// request, two equal snapshots mean the request changed nothing of that organization's (no row
// added, removed or altered). Tables come from src/db/schema.ts, so a new table is covered, or
// the snapshot refuses to run until it is told how to find the organization's rows.
import { env } from "cloudflare:test";
import { getTableConfig, SQLiteTable } from "drizzle-orm/sqlite-core";
import * as schema from "../src/db/schema";

// Tables whose rows reach their organization another way than an `organization_id` column.
const OWNER_FILTER: Record<string, string> = {
  organizations: "id = ?1",
  refresh_tokens: "user_id IN (SELECT id FROM users WHERE organization_id = ?1)",
};

/** Every table src/db/schema.ts defines. */
export const schemaTables = (): SQLiteTable[] =>
  Object.values(schema as Record<string, unknown>).filter((value): value is SQLiteTable => value instanceof SQLiteTable);

function tables(): { name: string; filter: string }[] {
  return schemaTables().map((table) => {
    const { name, columns } = getTableConfig(table);
    const filter = OWNER_FILTER[name] ?? (columns.some((c) => c.name === "organization_id") ? "organization_id = ?1" : undefined);
    if (!filter) throw new Error(`db-snapshot: table ${name} has no organization_id; add it to OWNER_FILTER`);
    return { name, filter };
  });
}

export interface OrgSnapshot {
  /** table → `<row count>:<sha-256 of the rows, ordered by id>` */
  tables: Record<string, string>;
  /** Every `id` of the organization's rows (of any table). */
  ids: Set<string>;
}

async function sha256(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** All of one organization's rows, in one D1 batch. */
export async function snapshotOrg(organizationId: string): Promise<OrgSnapshot> {
  const list = tables();
  const results = await env.DB.batch(
    list.map(({ name, filter }) => env.DB.prepare(`SELECT * FROM ${name} WHERE ${filter} ORDER BY id`).bind(organizationId)),
  );
  const snapshot: OrgSnapshot = { tables: {}, ids: new Set() };
  for (const [i, { name }] of list.entries()) {
    const rows = results[i]!.results as Record<string, unknown>[];
    snapshot.tables[name] = `${rows.length}:${await sha256(JSON.stringify(rows))}`;
    for (const row of rows) if (typeof row.id === "string") snapshot.ids.add(row.id);
  }
  return snapshot;
}
