// What widget data costs GET /api/dashboards/:id. One Worker with the sample data source
// migrated and seeded, and three dashboards of 8 widgets each, read in alternating rounds:
//   plain  widgets without queries (data {}): the dashboard read itself
//   warm   8 sample-source queries, answered from the cache (cacheTtlSeconds: 86400)
//   cold   the same 8 queries with cacheTtlSeconds: 0, so every read runs all 8 on D1
// Rate limits are off, so every side serves 200s and only the data path differs.
import { RATE_LIMITS_OFF, api, load, seedOrganization, startWorker, summarize } from "../harness.mjs";

const SAMPLE = "5a301e00-da7a-4000-8000-000000000001";

// Eight typical dashboard queries over the sample shop.
const QUERIES = [
  ["line_chart", "Monthly revenue", "SELECT strftime('%Y-%m', order_date) AS month, round(sum(total), 2) AS revenue FROM orders WHERE status = 'completed' GROUP BY 1 ORDER BY 1"],
  ["pie_chart", "Orders by status", "SELECT status, count(*) AS orders FROM orders GROUP BY status ORDER BY orders DESC"],
  ["table", "Top products", "SELECT p.name, sum(i.quantity) AS units, round(sum(i.line_total), 2) AS revenue FROM order_items i JOIN products p ON p.id = i.product_id GROUP BY p.id ORDER BY revenue DESC LIMIT 10"],
  ["bar_chart", "Customers by country", "SELECT country, count(*) AS customers FROM customers GROUP BY country ORDER BY customers DESC"],
  ["area_chart", "Orders by channel and month", "SELECT strftime('%Y-%m', order_date) AS month, channel, count(*) AS orders FROM orders GROUP BY 1, 2 ORDER BY 1, 2"],
  ["line_chart", "Average order value", "SELECT strftime('%Y-%m', order_date) AS month, round(avg(total), 2) AS aov FROM orders WHERE status = 'completed' GROUP BY 1 ORDER BY 1"],
  ["bar_chart", "New customers per month", "SELECT strftime('%Y-%m', signup_date) AS month, count(*) AS customers FROM customers WHERE signup_date >= :since GROUP BY 1 ORDER BY 1", { since: "2024-01-01" }],
  ["metric", "Revenue by category", "SELECT p.category, round(sum(i.line_total), 2) AS revenue FROM order_items i JOIN products p ON p.id = i.product_id GROUP BY 1 ORDER BY 2 DESC"],
];

async function dashboardWith(worker, token, name, widgetConfig) {
  const dashboard = await api(worker, "POST", "/api/dashboards", { token, body: { name } });
  for (const [i, [type, title, query, params]] of QUERIES.entries()) {
    await api(worker, "POST", `/api/dashboards/${dashboard.id}/widgets`, {
      token,
      body: { type, title, x: (i % 2) * 6, y: Math.floor(i / 2) * 4, width: 6, height: 4, ...widgetConfig(query, params) },
    });
  }
  return dashboard.id;
}

export default {
  name: "widget-data",
  title: "GET /api/dashboards/:id with 8 sample-source widgets: plain vs warm (cached) vs cold",
  target: "warm ≥ 0.8 × plain (req/s)",

  async run({ seconds, rounds, connections, log }) {
    const worker = await startWorker("widget-data", RATE_LIMITS_OFF, { sampleData: true });
    let sides;
    try {
      const { token } = await seedOrganization(worker);
      const ids = {
        plain: await dashboardWith(worker, token, "Plain", () => ({ config: { note: "no query" } })),
        warm: await dashboardWith(worker, token, "Warm", (query, params) => ({
          dataSourceId: SAMPLE,
          config: { query, ...(params && { params }), cacheTtlSeconds: 86_400 },
        })),
        cold: await dashboardWith(worker, token, "Cold", (query, params) => ({
          dataSourceId: SAMPLE,
          config: { query, ...(params && { params }), cacheTtlSeconds: 0 },
        })),
      };
      const headers = { authorization: `Bearer ${token}` };
      sides = Object.entries(ids).map(([label, id]) => ({ label, path: `/api/dashboards/${id}`, rounds: [] }));

      // Every warm widget must really be a cached result, every cold one a fresh one, with rows.
      for (const side of sides) {
        const body = await api(worker, "GET", side.path, { token });
        const data = body.widgets.map((w) => w.data);
        const ok =
          side.label === "plain"
            ? data.every((d) => Object.keys(d).length === 0)
            : data.every((d) => Array.isArray(d.rows) && d.rows.length > 0 && (side.label === "warm" ? d.cachedAt !== null : d.cachedAt === null));
        if (!ok) throw new Error(`${side.label}: unexpected widget data ${JSON.stringify(data).slice(0, 500)}`);
        log(`${side.label}: ${body.widgets.length} widgets, ${JSON.stringify(body).length} bytes`);
        await load(worker, { path: side.path, headers, seconds: 2, connections });
      }
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? sides : [...sides].reverse();
        for (const side of order) {
          log(`round ${round + 1}/${rounds}: ${side.label} for ${seconds / rounds} s`);
          side.rounds.push(await load(worker, { path: side.path, headers, seconds: seconds / rounds, connections }));
        }
      }
    } finally {
      await worker.stop();
    }

    const results = sides.map((s) => ({ label: s.label, ...summarize(s.rounds) }));
    for (const side of results) {
      const bad = Object.entries(side.statuses).filter(([code]) => code !== "200");
      if (bad.length > 0 || side.errors > 0) {
        throw new Error(`${side.label}: expected only 200s, got ${JSON.stringify(side.statuses)} and ${side.errors} errors`);
      }
    }
    const [plain, warm, cold] = results;
    const ratio = warm.rps / plain.rps;
    return {
      rows: results,
      verdict:
        `warm/plain throughput ratio ${ratio.toFixed(2)} (target ≥ 0.8: ${ratio >= 0.8 ? "met" : "NOT met"}); ` +
        `cold/plain ${(cold.rps / plain.rps).toFixed(2)} (all 8 queries on every read, for scale)`,
    };
  },
};
