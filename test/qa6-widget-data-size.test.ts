// QA: a widget's result is bounded in bytes as well as rows. Without it, one widget selecting
// wide rows (5,000 × 20 kB = 100 MB) blew the Worker's memory and took the whole dashboard
// (and the isolate's other requests) with it; with it, the result stops early and says truncated.
import { env } from "cloudflare:test";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, it } from "vitest";
import * as schema from "../src/db/schema";
import { loadConfig } from "../src/env";
import { loadWidgetData } from "../src/services/widget-data";
import { SAMPLE_DATA_SOURCE_ID } from "../src/services/sample-source";
import { newDashboard, newWidget } from "./crud-helpers";
import { widgetRow } from "./widget-data-helpers";
import { MY, PG, sourceBody } from "./db-targets";
import { api, registerOrg } from "./helpers";

const MAX_BYTES = 50_000;
const ctx = () => ({ db: drizzle(env.DB, { schema }), config: { ...loadConfig(env), queryMaxBytes: MAX_BYTES }, sampleDb: env.SAMPLE_DB });

describe("widget results are capped in bytes", () => {
  it("reads QUERY_MAX_BYTES from [vars]", () => {
    expect(loadConfig(env).queryMaxBytes).toBe(Number(env.QUERY_MAX_BYTES));
  });

  it("stops a wide result early on every source, says truncated, and leaves narrow results whole", async () => {
    const user = await registerOrg();
    const pg = await api("POST", "/api/data-sources", { token: user.token, body: sourceBody(PG) });
    const my = await api("POST", "/api/data-sources", { token: user.token, body: sourceBody(MY) });
    const dashboard = await newDashboard(user);
    const queries: [string, string][] = [
      [pg.body.id, "SELECT repeat('x', 1000) AS w FROM generate_series(1, 200)"],
      [my.body.id, "SELECT REPEAT('x', 1000) AS w FROM (SELECT 1 FROM information_schema.columns LIMIT 200) t"],
      [SAMPLE_DATA_SOURCE_ID, "SELECT replace(hex(zeroblob(500)), '0', 'x') AS w FROM orders LIMIT 200"],
      [pg.body.id, "SELECT g FROM generate_series(1, 100) g"],
    ];
    const rows = [];
    for (const [i, [dataSourceId, query]] of queries.entries()) {
      const w = await newWidget(user, dashboard.id, { dataSourceId, config: { query, cacheTtlSeconds: 0 }, y: i });
      rows.push(await widgetRow(w.id));
    }
    const [pgWide, myWide, sampleWide, narrow] = (await loadWidgetData(ctx(), rows)) as any[];
    for (const data of [pgWide, myWide, sampleWide]) {
      expect(data.truncated).toBe(true);
      expect(data.rowCount).toBe(data.rows.length);
      expect(data.rowCount).toBeGreaterThan(0);
      expect(data.rowCount).toBeLessThan(200);
      expect(JSON.stringify(data.rows).length).toBeLessThanOrEqual(MAX_BYTES);
      expect(data.rows[0][0]).toHaveLength(1000);
    }
    expect(narrow).toMatchObject({ rowCount: 100, truncated: false });
  });
});
