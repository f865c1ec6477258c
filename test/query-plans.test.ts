// The dashboard list's queries, as the service really builds them, through SQLite's planner:
// every sort and filter reads its page in index order (no sort of the organization's rows), and
// its total from an index or the stored count. The benchmark measures the speed; this keeps the
// plans from regressing silently.
import { env } from "cloudflare:test";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, it } from "vitest";
import * as schema from "../src/db/schema";
import type { Actor } from "../src/env";
import { listDashboardsQuery } from "../src/schemas/dashboards";
import { listDashboards } from "../src/services/dashboards";

interface Captured {
  sql: string;
  params: unknown[];
}

/** env.DB, recording every statement drizzle binds (batch members included). */
function recordingD1(seen: Captured[]): D1Database {
  const db = env.DB;
  return new Proxy(db, {
    get(target, prop) {
      if (prop === "prepare") {
        return (sql: string) => {
          const statement = target.prepare(sql);
          return new Proxy(statement, {
            get(stmt, name) {
              if (name === "bind") {
                return (...params: unknown[]) => {
                  seen.push({ sql, params });
                  return stmt.bind(...params);
                };
              }
              const value = Reflect.get(stmt, name, stmt);
              return typeof value === "function" ? value.bind(stmt) : value;
            },
          });
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

async function plan({ sql, params }: Captured): Promise<string[]> {
  const { results } = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
    .bind(...params)
    .all<{ detail: string }>();
  return results.map((r) => r.detail);
}

/** The plans of the page query and the total query GET /api/dashboards?<search> makes. */
async function listPlans(search: string): Promise<{ page: string[]; total: string[] }> {
  const seen: Captured[] = [];
  const db = drizzle(recordingD1(seen), { schema });
  const actor: Actor = { userId: crypto.randomUUID(), organizationId: crypto.randomUUID(), role: "viewer" };
  const query = listDashboardsQuery.parse(Object.fromEntries(new URLSearchParams(search)));
  await listDashboards(db, actor, query);
  expect(seen).toHaveLength(2);
  const [page, total] = seen as [Captured, Captured];
  return { page: await plan(page), total: await plan(total) };
}

describe("GET /api/dashboards query plans", () => {
  const orders: [string, string][] = [
    ["", "dashboards_org_created_idx"],
    ["sort=createdAt", "dashboards_org_created_idx"],
    ["sort=name", "dashboards_org_name_idx"],
    ["sort=-name", "dashboards_org_name_idx"],
    ["sort=updatedAt", "dashboards_org_updated_idx"],
    ["sort=-updatedAt", "dashboards_org_updated_idx"],
  ];

  it.each(orders)("?%s reads its page from %s in order and its total from the stored count", async (search, index) => {
    const { page, total } = await listPlans(search);
    expect(page.join(" | ")).toContain(`USING INDEX ${index} (organization_id=?)`);
    expect(page.join(" | ")).not.toMatch(/TEMP B-TREE|SCAN/);
    expect(total).toEqual([expect.stringMatching(/^SEARCH organizations USING INDEX sqlite_autoindex_organizations_1 \(id=\?\)$/)]);
  });

  it.each(["isPublic=true", "isPublic=false"])("?%s pages and counts from dashboards_org_public_idx", async (search) => {
    const { page, total } = await listPlans(search);
    expect(page.join(" | ")).toContain("USING INDEX dashboards_org_public_idx (organization_id=? AND is_public=?)");
    expect(page.join(" | ")).not.toMatch(/TEMP B-TREE|SCAN/);
    expect(total).toEqual(["SEARCH dashboards USING COVERING INDEX dashboards_org_public_idx (organization_id=? AND is_public=?)"]);
  });

  it.each(["q=sales", "q=sales&sort=name", "isPublic=true&sort=-updatedAt"])(
    "?%s stays inside the organization's index range, sorting nothing",
    async (search) => {
      const { page, total } = await listPlans(search);
      expect(page.join(" | ")).toMatch(/SEARCH dashboards USING (COVERING )?INDEX dashboards_org_\w+ \(organization_id=\?/);
      expect(page.join(" | ")).not.toMatch(/TEMP B-TREE|SCAN/);
      expect(total.join(" | ")).toMatch(/SEARCH dashboards USING (COVERING )?INDEX dashboards_org_\w+ \(organization_id=\?/);
    },
  );
});
