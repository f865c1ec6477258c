// Widget data on the built-in sample source, end to end through the API.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { runSampleQuery } from "../src/services/sample-source";
import { SAMPLE_DATA_SOURCE_ID as SAMPLE } from "../src/services/sample-source";
import { NIL_UUID, newDashboard, newDataSource, newWidget } from "./crud-helpers";
import { ISO_MS, addMember, api, expectError, registerOrg, type TestUser } from "./helpers";

const sampleCount = async (sql: string) => (await env.SAMPLE_DB.prepare(sql).first<{ n: number }>())!.n;

async function dataWidget(user: TestUser, dashboardId: string, query: string, config: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return newWidget(user, dashboardId, { dataSourceId: SAMPLE, config: { query, ...config }, ...extra });
}

const widgetData = async (user: TestUser, dashboardId: string, id: string, refresh?: string) =>
  api("GET", `/api/dashboards/${dashboardId}/widgets/${id}/data${refresh === undefined ? "" : `?refresh=${refresh}`}`, { token: user.token });

describe("the sample data source in /api/data-sources", () => {
  it("is listed first for every organization, read-only, and usable by every organization's widgets", async () => {
    for (const admin of [await registerOrg(), await registerOrg()]) {
      await newDataSource(admin, { name: "Own" });
      const list = await api("GET", "/api/data-sources", { token: admin.token });
      expect(list.body.data[0]).toEqual({
        id: SAMPLE,
        name: "Sample data (built-in)",
        type: "sample",
        createdAt: expect.stringMatching(ISO_MS),
        updatedAt: expect.stringMatching(ISO_MS),
      });
      expect(list.body.meta.total).toBe(2);

      const detail = await api("GET", `/api/data-sources/${SAMPLE}`, { token: admin.token });
      expect(detail.body).toMatchObject({ id: SAMPLE, type: "sample", connection: null });

      const patch = await api("PATCH", `/api/data-sources/${SAMPLE}`, { token: admin.token, body: { name: "Mine now" } });
      expect(expectError(patch, 403, "forbidden")).toEqual([]);
      expect(patch.body.error.message).toMatch(/sample data source is read-only/);
      expectError(await api("DELETE", `/api/data-sources/${SAMPLE}`, { token: admin.token }), 403, "forbidden");
      expect((await api("GET", "/api/data-sources", { token: admin.token })).body.data[0].name).toBe("Sample data (built-in)");

      const tested = await api("POST", `/api/data-sources/${SAMPLE}/test`, { token: admin.token });
      expect(tested.body).toEqual({ success: true, message: "Connection successful", latencyMs: expect.any(Number), serverVersion: expect.stringMatching(/D1/) });

      const dashboard = await newDashboard(admin);
      const widget = await newWidget(admin, dashboard.id, { dataSourceId: SAMPLE });
      expect(widget.dataSourceId).toBe(SAMPLE);
    }
  });

  it("shifts later pages by one so nothing is skipped or repeated", async () => {
    const admin = await registerOrg();
    for (let i = 0; i < 3; i++) await newDataSource(admin, { name: `S${i}` });
    const page = async (n: number) =>
      (await api("GET", `/api/data-sources?limit=2&page=${n}&sort=name`, { token: admin.token })).body;
    const [one, two] = [await page(1), await page(2)];
    expect(one.meta).toEqual({ total: 4, page: 1, limit: 2, pages: 2 });
    expect([...one.data, ...two.data].map((d: { name: string }) => d.name)).toEqual(["Sample data (built-in)", "S0", "S1", "S2"]);
    // The sample cannot be created as a type.
    expectError(await api("POST", "/api/data-sources", { token: admin.token, body: { name: "x", type: "sample", connection: {} } }), 400, "validation_error");
  });
});

describe("widget data from the sample source", () => {
  it("returns typed columns and rows on the dashboard, the widget routes and the data route", async () => {
    const admin = await registerOrg();
    const viewer = await addMember(admin, "viewer");
    const dashboard = await newDashboard(admin);
    const widget = await dataWidget(
      admin,
      dashboard.id,
      `SELECT strftime('%Y-%m', order_date) AS month, count(*) AS orders, round(sum(total), 2) AS revenue,
              min(order_date) AS first_day, x'00ff' AS tag, NULL AS empty
         FROM orders WHERE order_date < '2024-04-01' GROUP BY 1 ORDER BY 1`,
      { color: "blue" },
    );
    const expected = await env.SAMPLE_DB.prepare(
      "SELECT strftime('%Y-%m', order_date) AS m, count(*) AS n, round(sum(total), 2) AS r FROM orders WHERE order_date < '2024-04-01' GROUP BY 1 ORDER BY 1",
    ).raw();
    expect(expected).toHaveLength(3);

    const res = await api("GET", `/api/dashboards/${dashboard.id}`, { token: viewer.token });
    expect(res.status).toBe(200);
    const data = res.body.widgets[0].data;
    expect(data).toEqual({
      columns: [
        { name: "month", type: "string" },
        { name: "orders", type: "integer" },
        { name: "revenue", type: "number" },
        { name: "first_day", type: "date" },
        { name: "tag", type: "bytes" },
        { name: "empty", type: "unknown" },
      ],
      rows: expected.map(([m, n, r], i) => [m, n, r, `2024-0${i + 1}-01`, "AP8=", null]),
      rowCount: 3,
      truncated: false,
      durationMs: expect.any(Number),
      cachedAt: expect.stringMatching(ISO_MS),
    });
    // The visualization options are the client's, untouched.
    expect(res.body.widgets[0].config).toEqual({ query: expect.any(String), color: "blue" });

    const one = await api("GET", `/api/dashboards/${dashboard.id}/widgets/${widget.id}`, { token: viewer.token });
    expect(one.body.data.rows).toEqual(data.rows);
    const route = await widgetData(viewer, dashboard.id, widget.id);
    expect(route.status).toBe(200);
    expect(route.body).toEqual({ id: widget.id, data: { ...data, durationMs: expect.any(Number), cachedAt: expect.any(String) } });
  });

  it("binds params as values: an injection string is just a string that matches nothing", async () => {
    const admin = await registerOrg();
    const dashboard = await newDashboard(admin);
    const query = "SELECT count(*) AS n FROM customers WHERE country = :country AND segment = :segment";
    const ok = await dataWidget(admin, dashboard.id, query, { params: { country: "Germany", segment: "business" } });
    const evil = await dataWidget(admin, dashboard.id, query, {
      params: { country: "Germany' OR 1=1; DELETE FROM customers; --", segment: "business" },
    });
    const before = await sampleCount("SELECT count(*) AS n FROM customers");
    const germans = await sampleCount("SELECT count(*) AS n FROM customers WHERE country = 'Germany' AND segment = 'business'");
    expect(germans).toBeGreaterThan(0);

    const res = await api("GET", `/api/dashboards/${dashboard.id}`, { token: admin.token });
    const byId = Object.fromEntries(res.body.widgets.map((w: { id: string; data: unknown }) => [w.id, w.data]));
    expect(byId[ok.id].rows).toEqual([[germans]]);
    expect(byId[evil.id].rows).toEqual([[0]]);
    expect(await sampleCount("SELECT count(*) AS n FROM customers")).toBe(before);
  });

  it("refuses writes, DDL, several statements and writes hidden in a CTE, and nothing changes", async () => {
    const admin = await registerOrg();
    const dashboard = await newDashboard(admin);
    const counts = () => sampleCount("SELECT (SELECT count(*) FROM orders) + (SELECT count(*) FROM customers) * 100000 AS n");
    const tables = () => sampleCount("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'");
    const before = [await counts(), await tables()];
    const attempts = [
      "UPDATE orders SET total = 0",
      "DELETE FROM orders",
      "DROP TABLE orders",
      "INSERT INTO customers (id, name, email, country, city, segment, signup_date) VALUES (99999, 'x', 'x', 'x', 'x', 'x', '2024-01-01')",
      "SELECT 1; DROP TABLE orders",
      "SELECT 1; DELETE FROM orders;",
      "WITH doomed AS (SELECT id FROM orders) DELETE FROM orders WHERE id IN (SELECT id FROM doomed)",
      "WITH x AS (DELETE FROM orders RETURNING id) SELECT * FROM x",
      "PRAGMA query_only = 0",
      "ATTACH DATABASE ':memory:' AS other",
      "CREATE TABLE evil (a)",
      "REPLACE INTO customers (id) VALUES (1)",
    ];
    const ids: string[] = [];
    for (const query of attempts) ids.push((await dataWidget(admin, dashboard.id, query)).id);
    const res = await api("GET", `/api/dashboards/${dashboard.id}`, { token: admin.token });
    expect(res.status).toBe(200);
    for (const w of res.body.widgets) {
      expect(w.data, w.config.query).toEqual({ error: { code: "forbidden_statement", message: expect.any(String) } });
    }
    expect(res.body.widgets.find((w: { id: string }) => w.id === ids[4]).data.error.message).toBe("Only a single statement is allowed");
    expect(res.body.widgets.find((w: { id: string }) => w.id === ids[0]).data.error.message).toMatch(/SELECT or WITH/);
    expect([await counts(), await tables()]).toEqual(before);
  });

  it("rests on two facts about D1: PRAGMA query_only is refused, and prepare() runs every statement", async () => {
    // Why the sample source cannot lean on a read-only mode, and why the wrapper matters.
    await expect(env.SAMPLE_DB.prepare("PRAGMA query_only = 1").run()).rejects.toThrow(/not authorized/);
    await env.SAMPLE_DB.exec("CREATE TABLE IF NOT EXISTS d1_fact (a INTEGER)");
    await env.SAMPLE_DB.prepare("SELECT 1; DROP TABLE d1_fact").raw();
    expect(await sampleCount("SELECT count(*) AS n FROM sqlite_master WHERE name = 'd1_fact'")).toBe(0);
    // The same text through the sample source is refused before it reaches D1.
    await env.SAMPLE_DB.exec("CREATE TABLE IF NOT EXISTS d1_fact (a INTEGER)");
    await expect(runSampleQuery(env.SAMPLE_DB, "SELECT 1; DROP TABLE d1_fact", {}, { timeoutMs: 5000, maxRows: 10, maxBytes: 1_000_000 })).rejects.toMatchObject({
      code: "forbidden_statement",
    });
    expect(await sampleCount("SELECT count(*) AS n FROM sqlite_master WHERE name = 'd1_fact'")).toBe(1);
  });

  it("caps rows at QUERY_MAX_ROWS and says truncated", async () => {
    const admin = await registerOrg();
    const dashboard = await newDashboard(admin);
    const items = await sampleCount("SELECT count(*) AS n FROM order_items");
    expect(items).toBeGreaterThan(5000);
    const big = await dataWidget(admin, dashboard.id, "SELECT id FROM order_items ORDER BY id");
    const small = await dataWidget(admin, dashboard.id, "SELECT id FROM products ORDER BY id");
    const res = await widgetData(admin, dashboard.id, big.id);
    expect(res.body.data).toMatchObject({ rowCount: 5000, truncated: true });
    expect(res.body.data.rows).toHaveLength(5000);
    expect(res.body.data.rows.at(-1)).toEqual([5000]);
    expect((await widgetData(admin, dashboard.id, small.id)).body.data).toMatchObject({ truncated: false, rowCount: 50 });

    const direct = await runSampleQuery(env.SAMPLE_DB, "SELECT id FROM products", {}, { timeoutMs: 5000, maxRows: 10, maxBytes: 1_000_000 });
    expect([direct.rowCount, direct.truncated, direct.rows.length]).toEqual([10, true, 10]);
  });

  it("stops waiting for a query past the statement timeout", async () => {
    // D1 cannot cancel a statement, and local D1 runs on the test's own thread (a slow query there
    // blocks the timer too), so the wait is shown against a database that never answers.
    const neverAnswers = {
      prepare: () => ({ bind: () => ({ raw: () => new Promise(() => {}) }) }),
    } as unknown as D1Database;
    await expect(runSampleQuery(neverAnswers, "SELECT 1", {}, { timeoutMs: 20, maxRows: 10, maxBytes: 1_000_000 })).rejects.toMatchObject({
      code: "timeout",
      message: "The query did not finish within 20 ms",
    });
  });

  it("gives each broken widget its own error and leaves the others intact", async () => {
    const admin = await registerOrg();
    const dashboard = await newDashboard(admin);
    const good = await dataWidget(admin, dashboard.id, "SELECT count(*) AS n FROM products", {}, { x: 0, y: 0 });
    const cases: [string, Record<string, unknown>, string][] = [
      ["syntax", { query: "SELEC nope" }, "forbidden_statement"],
      ["unknown table", { query: "SELECT * FROM nowhere" }, "query_error"],
      ["missing param", { query: "SELECT :missing" }, "invalid_config"],
    ];
    // Configs the API refuses to store (400), as rows written before that rule or around the API.
    const invalid: [string, Record<string, unknown>, string][] = [
      ["not text", { query: 42 }, "config.query"],
      ["bad ttl", { query: "SELECT 1", cacheTtlSeconds: -1 }, "config.cacheTtlSeconds"],
      ["bad params", { query: "SELECT 1", params: [1] }, "config.params"],
    ];
    let y = 1;
    for (const [title, config] of cases) await newWidget(admin, dashboard.id, { title, config, dataSourceId: SAMPLE, y: y++ });
    for (const [title, config, field] of invalid) {
      const refused = await api("POST", `/api/dashboards/${dashboard.id}/widgets`, {
        token: admin.token,
        body: { type: "table", title, config, dataSourceId: SAMPLE, x: 0, y, width: 6, height: 2 },
      });
      expect(expectError(refused, 400, "validation_error").map((d) => d.field)).toEqual([field]);
      const stored = await newWidget(admin, dashboard.id, { title, dataSourceId: SAMPLE, y: y++ });
      await env.DB.prepare("UPDATE widgets SET config = ? WHERE id = ?").bind(JSON.stringify(config), stored.id).run();
      cases.push([title, config, "invalid_config"]);
    }
    await newWidget(admin, dashboard.id, { title: "no source", config: { query: "SELECT 1" }, y: y++ });
    await newWidget(admin, dashboard.id, { title: "text", type: "text", config: { markdown: "hi" }, y: y++ });
    await newWidget(admin, dashboard.id, { title: "no query yet", dataSourceId: SAMPLE, y: y++ });

    const res = await api("GET", `/api/dashboards/${dashboard.id}`, { token: admin.token });
    expect(res.status).toBe(200);
    const byTitle = Object.fromEntries(res.body.widgets.map((w: { title: string; data: unknown }) => [w.title, w.data]));
    expect(res.body.widgets[0].id).toBe(good.id);
    expect(res.body.widgets[0].data.rows).toEqual([[50]]);
    for (const [title, , code] of cases) expect(byTitle[title], title).toEqual({ error: { code, message: expect.any(String) } });
    expect(byTitle["unknown table"].error.message).toBe("no such table: nowhere");
    expect(byTitle["no source"]).toEqual({ error: { code: "no_data_source", message: expect.any(String) } });
    expect(byTitle["text"]).toEqual({});
    expect(byTitle["no query yet"]).toEqual({});
  });
});

describe("the widget result cache", () => {
  it("answers repeat views from the cache without touching the source, until refresh=true", async () => {
    const admin = await registerOrg();
    const dashboard = await newDashboard(admin);
    await env.SAMPLE_DB.exec("CREATE TABLE IF NOT EXISTS cache_probe (v INTEGER)");
    await env.SAMPLE_DB.exec("DELETE FROM cache_probe; INSERT INTO cache_probe VALUES (1)");
    const widget = await dataWidget(admin, dashboard.id, "SELECT v FROM cache_probe");
    // Creating the widget ran its query once and cached the answer.
    expect(widget.data).toMatchObject({ rows: [[1]], cachedAt: null });

    await env.SAMPLE_DB.exec("UPDATE cache_probe SET v = 2");
    const cached = (await api("GET", `/api/dashboards/${dashboard.id}`, { token: admin.token })).body.widgets[0].data;
    // Still 1: the answer came from the cache, not from the database.
    expect(cached).toMatchObject({ rows: [[1]], cachedAt: expect.stringMatching(ISO_MS) });

    const refreshed = await widgetData(admin, dashboard.id, widget.id, "true");
    expect(refreshed.body.data).toMatchObject({ rows: [[2]], cachedAt: null });
    const after = await widgetData(admin, dashboard.id, widget.id, "false");
    expect(after.body.data).toMatchObject({ rows: [[2]], cachedAt: expect.stringMatching(ISO_MS) });

    for (const bad of ["yes", "1", "TRUE", ""]) {
      const details = expectError(await widgetData(admin, dashboard.id, widget.id, bad), 400, "validation_error");
      expect(details.map((d) => d.field)).toEqual(["refresh"]);
    }
    expectError(await widgetData(admin, dashboard.id, NIL_UUID), 404, "not_found");
  });

  it("is invalidated by editing the query or params, and skipped with cacheTtlSeconds 0", async () => {
    const admin = await registerOrg();
    const dashboard = await newDashboard(admin);
    await env.SAMPLE_DB.exec("CREATE TABLE IF NOT EXISTS cache_probe2 (k TEXT, v INTEGER)");
    await env.SAMPLE_DB.exec("DELETE FROM cache_probe2; INSERT INTO cache_probe2 VALUES ('a', 1), ('b', 10)");
    const widget = await dataWidget(admin, dashboard.id, "SELECT v FROM cache_probe2 WHERE k = :k", { params: { k: "a" } });
    await env.SAMPLE_DB.exec("UPDATE cache_probe2 SET v = v + 1");
    expect((await widgetData(admin, dashboard.id, widget.id)).body.data).toMatchObject({ rows: [[1]], cachedAt: expect.any(String) });

    const path = `/api/dashboards/${dashboard.id}/widgets/${widget.id}`;
    const newParams = await api("PATCH", path, { token: admin.token, body: { config: { query: "SELECT v FROM cache_probe2 WHERE k = :k", params: { k: "b" } } } });
    expect(newParams.body.data).toMatchObject({ rows: [[11]], cachedAt: null });
    const newQuery = await api("PATCH", path, { token: admin.token, body: { config: { query: "SELECT v * 100 AS v FROM cache_probe2 WHERE k = :k", params: { k: "b" } } } });
    expect(newQuery.body.data).toMatchObject({ rows: [[1100]], cachedAt: null });

    const uncached = await dataWidget(admin, dashboard.id, "SELECT v FROM cache_probe2 WHERE k = 'a'", { cacheTtlSeconds: 0 });
    await env.SAMPLE_DB.exec("UPDATE cache_probe2 SET v = 50 WHERE k = 'a'");
    expect((await widgetData(admin, dashboard.id, uncached.id)).body.data).toMatchObject({ rows: [[50]], cachedAt: null });
  });

  it("never serves one organization's cached result to another", async () => {
    const first = await registerOrg();
    const second = await registerOrg();
    await env.SAMPLE_DB.exec("CREATE TABLE IF NOT EXISTS cache_probe3 (v INTEGER)");
    await env.SAMPLE_DB.exec("DELETE FROM cache_probe3; INSERT INTO cache_probe3 VALUES (1)");
    const query = "SELECT v FROM cache_probe3";
    const firstDashboard = await newDashboard(first);
    const firstWidget = await dataWidget(first, firstDashboard.id, query);
    expect((await widgetData(first, firstDashboard.id, firstWidget.id)).body.data.cachedAt).toEqual(expect.any(String));

    // The other organization cannot reach the widget, its data, or its cached result.
    expectError(await widgetData(second, firstDashboard.id, firstWidget.id), 404, "not_found");
    expectError(await api("GET", `/api/dashboards/${firstDashboard.id}`, { token: second.token }), 404, "not_found");

    // The same query in the other organization is its own entry: it runs, and sees today's value.
    await env.SAMPLE_DB.exec("UPDATE cache_probe3 SET v = 2");
    const secondDashboard = await newDashboard(second);
    const secondWidget = await dataWidget(second, secondDashboard.id, query);
    expect(secondWidget.data).toMatchObject({ rows: [[2]], cachedAt: null });
    expect((await widgetData(first, firstDashboard.id, firstWidget.id)).body.data.rows).toEqual([[1]]);
  });
});

describe("the public dashboard view", () => {
  it("shows data without the SQL, params, ids of people, or database error text", async () => {
    const admin = await registerOrg();
    const dashboard = await newDashboard(admin, { isPublic: true });
    await dataWidget(admin, dashboard.id, "SELECT count(*) AS n FROM orders WHERE status = :s", { params: { s: "refunded" }, color: "red" }, { y: 0 });
    await dataWidget(admin, dashboard.id, "SELECT * FROM secret_table_name", {}, { y: 1 });
    const res = await api("GET", `/api/public/dashboards/${dashboard.id}`);
    expect(res.status).toBe(200);
    const [ok, broken] = res.body.widgets;
    expect(ok.config).toEqual({ color: "red" });
    expect(ok.data.rows).toEqual([[await sampleCount("SELECT count(*) AS n FROM orders WHERE status = 'refunded'")]]);
    expect(broken.data).toEqual({ error: { code: "query_error", message: "This widget's query failed" } });
    const text = JSON.stringify(res.body);
    expect(text).not.toContain("secret_table_name");
    expect(text).not.toContain(admin.id);
    expect(text).not.toContain("refunded");
  });
});
