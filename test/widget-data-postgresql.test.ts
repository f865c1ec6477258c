// Widget data on a real PostgreSQL server (127.0.0.1), end to end through the API, plus the
// loader called directly where a test needs a short timeout or deadline.
import { env } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadWidgetData } from "../src/services/widget-data";
import { SAMPLE_DATA_SOURCE_ID } from "../src/services/sample-source";
import { newDashboard, newWidget } from "./crud-helpers";
import { view, ctxWith, widgetRow } from "./widget-data-helpers";
import { PG, pgAdmin, sourceBody } from "./db-targets";
import { ISO_MS, api, expectError, registerOrg } from "./helpers";

const PROBE = "edgeboard_widget_probe";
const admin = pgAdmin();

beforeAll(async () => {
  await admin.unsafe(`DROP TABLE IF EXISTS ${PROBE}; DROP SEQUENCE IF EXISTS ${PROBE}_seq`);
  await admin.unsafe(`CREATE TABLE ${PROBE} (id integer PRIMARY KEY, name text NOT NULL, amount numeric(10, 2) NOT NULL)`);
  await admin.unsafe(`INSERT INTO ${PROBE} SELECT g, 'item ' || g, g * 1.25 FROM generate_series(1, 20) g`);
  await admin.unsafe(`CREATE SEQUENCE ${PROBE}_seq`);
});
afterAll(async () => {
  await admin.unsafe(`DROP TABLE IF EXISTS ${PROBE}; DROP SEQUENCE IF EXISTS ${PROBE}_seq`);
  await admin.end();
});

const probeState = async () => {
  const [row] = await admin.unsafe(`SELECT count(*)::int AS n, sum(amount)::text AS total FROM ${PROBE}`);
  const [seq] = await admin.unsafe(`SELECT last_value::int AS v, is_called FROM ${PROBE}_seq`);
  return { ...row, ...seq };
};

async function setup() {
  const user = await registerOrg();
  const source = await api("POST", "/api/data-sources", { token: user.token, body: sourceBody(PG) });
  expect(source.status, JSON.stringify(source.body)).toBe(201);
  const dashboard = await newDashboard(user);
  let y = 0;
  const widget = (query: string, config: Record<string, unknown> = {}, title = query.slice(0, 100)) =>
    newWidget(user, dashboard.id, { title, dataSourceId: source.body.id, config: { query, ...config }, y: y++ });
  return { user, sourceId: source.body.id as string, dashboard, widget };
}


describe("PostgreSQL widget data", () => {
  it("returns typed columns and JSON-safe values", async () => {
    const { user, dashboard, widget } = await setup();
    await widget(`SELECT 42::int4 AS i, 9007199254740993::int8 AS big, 12.50::numeric(6,2) AS dec, 1.5::float8 AS f,
      true AS b, 'héllo'::text AS s, DATE '2024-02-29' AS d, TIMESTAMP '2024-02-29 13:14:15.678' AS ts,
      TIMESTAMPTZ '2024-02-29 13:14:15+02' AS tstz, '\\x00ff10'::bytea AS raw, '{"k":[1,"x"]}'::jsonb AS j,
      TIME '08:30' AS t, NULL::text AS nothing, 'NaN'::float8 AS nan, 1 AS i`);
    const [w] = await view(user, dashboard.id);
    expect(w!.data).toEqual({
      columns: [
        { name: "i", type: "integer" },
        { name: "big", type: "bigint" },
        { name: "dec", type: "decimal" },
        { name: "f", type: "number" },
        { name: "b", type: "boolean" },
        { name: "s", type: "string" },
        { name: "d", type: "date" },
        { name: "ts", type: "datetime" },
        { name: "tstz", type: "datetime" },
        { name: "raw", type: "bytes" },
        { name: "j", type: "json" },
        { name: "t", type: "time" },
        { name: "nothing", type: "string" },
        { name: "nan", type: "number" },
        { name: "i", type: "integer" },
      ],
      rows: [[42, "9007199254740993", "12.50", 1.5, true, "héllo", "2024-02-29", "2024-02-29T13:14:15.678Z", "2024-02-29T11:14:15.000Z", "AP8Q", { k: [1, "x"] }, "08:30:00", null, "NaN", 1]],
      rowCount: 1,
      truncated: false,
      durationMs: expect.any(Number),
      cachedAt: expect.stringMatching(ISO_MS),
    });
  });

  it("binds params as values, so an injection string changes nothing", async () => {
    const { user, dashboard, widget } = await setup();
    const before = await probeState();
    const query = `SELECT count(*)::int AS n FROM ${PROBE} WHERE name = :name OR id = :id`;
    await widget(query, { params: { name: "item 3", id: 7 } }, "ok");
    await widget(query, { params: { name: `x' OR 1=1; DROP TABLE ${PROBE}; --`, id: -1 } }, "evil");
    const byTitle = Object.fromEntries((await view(user, dashboard.id)).map((w) => [w.title, w.data]));
    expect(byTitle.ok.rows).toEqual([[2]]);
    expect(byTitle.evil.rows).toEqual([[0]]);
    expect(await probeState()).toEqual(before);
  });

  it("refuses writes, several statements and writes hidden inside reads, changing nothing", async () => {
    const { user, dashboard, widget } = await setup();
    const before = await probeState();
    const refused = [
      `UPDATE ${PROBE} SET amount = 0`,
      `DELETE FROM ${PROBE}`,
      `DROP TABLE ${PROBE}`,
      `INSERT INTO ${PROBE} VALUES (999, 'x', 1)`,
      `TRUNCATE ${PROBE}`,
      `SELECT 1; DELETE FROM ${PROBE}`,
      `COMMIT`,
      `SET default_transaction_read_only = off`,
    ];
    // These start like reads, so only the READ ONLY transaction stops them.
    const readOnlyViolations = [
      `WITH gone AS (DELETE FROM ${PROBE} RETURNING id) SELECT count(*) FROM gone`,
      `WITH changed AS (UPDATE ${PROBE} SET amount = 0 RETURNING id) SELECT count(*) FROM changed`,
      `SELECT * INTO ${PROBE}_copy FROM ${PROBE}`,
      `SELECT nextval('${PROBE}_seq')`,
    ];
    for (const q of [...refused, ...readOnlyViolations]) await widget(q);
    const widgets = await view(user, dashboard.id);
    for (const w of widgets) expect(w.data, w.title).toEqual({ error: { code: "forbidden_statement", message: expect.any(String) } });
    for (const w of widgets.slice(refused.length)) expect(w.data.error.message, w.title).toMatch(/read-only transaction/);
    expect(await probeState()).toEqual(before);
    const [copy] = await admin.unsafe(`SELECT to_regclass('${PROBE}_copy') AS t`);
    expect(copy!.t).toBeNull();
  });

  it("caps rows and says truncated", async () => {
    const { user, dashboard, widget } = await setup();
    await widget("SELECT g FROM generate_series(1, 6000) g", {}, "big");
    await widget("SELECT g FROM generate_series(1, 5000) g", {}, "exact");
    const byTitle = Object.fromEntries((await view(user, dashboard.id)).map((w) => [w.title, w.data]));
    expect([byTitle.big.rowCount, byTitle.big.truncated, byTitle.big.rows.length, byTitle.big.rows.at(-1)]).toEqual([5000, true, 5000, [5000]]);
    expect([byTitle.exact.rowCount, byTitle.exact.truncated]).toEqual([5000, false]);
  });

  it("stops a long query at the statement timeout, and a slow widget at the dashboard deadline, sparing the others", async () => {
    const { widget } = await setup();
    const slow = await widgetRow((await widget("SELECT pg_sleep(3) AS slept", { cacheTtlSeconds: 0 })).id);
    const fast = await widgetRow((await widget("SELECT 1 AS one", { cacheTtlSeconds: 0 })).id);

    const [timedOut, ok] = await loadWidgetData(ctxWith({ queryTimeoutMs: 200 }), [slow, fast]);
    expect(timedOut).toEqual({ error: { code: "timeout", message: "The query did not finish within 200 ms" } });
    expect(ok).toMatchObject({ rows: [[1]], cachedAt: null });

    const [late, fine] = await loadWidgetData(ctxWith({ queryTimeoutMs: 10_000 }), [slow, fast], { deadlineMs: 300 });
    expect(late).toEqual({ error: { code: "timeout", message: expect.stringMatching(/300 ms deadline/) } });
    expect(fine).toMatchObject({ rows: [[1]] });
  });

  it("serves repeat views from the cache until refresh=true, and a source edit invalidates", async () => {
    const { user, dashboard, widget, sourceId } = await setup();
    await admin.unsafe(`UPDATE ${PROBE} SET name = 'first' WHERE id = 1`);
    const w = await widget(`SELECT name FROM ${PROBE} WHERE id = 1`);
    expect(w.data).toMatchObject({ rows: [["first"]], cachedAt: null });
    await admin.unsafe(`UPDATE ${PROBE} SET name = 'second' WHERE id = 1`);
    const path = `/api/dashboards/${dashboard.id}/widgets/${w.id}/data`;
    expect((await api("GET", path, { token: user.token })).body.data).toMatchObject({ rows: [["first"]], cachedAt: expect.any(String) });
    expect((await api("GET", `${path}?refresh=true`, { token: user.token })).body.data).toMatchObject({ rows: [["second"]], cachedAt: null });

    await admin.unsafe(`UPDATE ${PROBE} SET name = 'third' WHERE id = 1`);
    expect((await api("GET", path, { token: user.token })).body.data.rows).toEqual([["second"]]);
    // Editing the source bumps its updatedAt, a part of the cache key.
    const patched = await api("PATCH", `/api/data-sources/${sourceId}`, { token: user.token, body: { name: "Renamed" } });
    expect(patched.status).toBe(200);
    expect((await api("GET", path, { token: user.token })).body.data).toMatchObject({ rows: [["third"]], cachedAt: null });
    await admin.unsafe(`UPDATE ${PROBE} SET name = 'item 1' WHERE id = 1`);
  });

  it("reports a source that refuses the login without its words, and never lets one organization use another's source", async () => {
    const { user, dashboard, sourceId } = await setup();
    const bad = await api("POST", "/api/data-sources", {
      token: user.token,
      body: sourceBody({ ...PG, port: 1, username: "who_is_this" }, "Closed port"),
    });
    const w = await newWidget(user, dashboard.id, { dataSourceId: bad.body.id, config: { query: "SELECT 1" } });
    expect(w.data).toEqual({ error: { code: "data_source_unavailable", message: expect.any(String) } });
    expect(JSON.stringify(w.data)).not.toContain("who_is_this");

    const wrongPassword = await api("POST", "/api/data-sources", {
      token: user.token,
      body: { ...sourceBody(PG, "Wrong password"), connection: { ...sourceBody(PG).connection, password: "not-the-password" } },
    });
    const denied = await newWidget(user, dashboard.id, { dataSourceId: wrongPassword.body.id, config: { query: "SELECT 1" } });
    expect(denied.data).toEqual({ error: { code: "data_source_unavailable", message: "The server rejected the username or password" } });

    const other = await registerOrg();
    const otherDashboard = await newDashboard(other);
    const refused = await api("POST", `/api/dashboards/${otherDashboard.id}/widgets`, {
      token: other.token,
      body: { type: "table", title: "Steal", config: { query: "SELECT 1" }, dataSourceId: sourceId, x: 0, y: 0, width: 6, height: 4 },
    });
    expect(expectError(refused, 400, "validation_error").map((d) => d.field)).toEqual(["dataSourceId"]);

    // Even a widget row that names another organization's source (written around the API) gets nothing.
    const forged = await newWidget(other, otherDashboard.id, { dataSourceId: SAMPLE_DATA_SOURCE_ID, config: { query: "SELECT 1" } });
    await env.DB.prepare("UPDATE widgets SET data_source_id = ? WHERE id = ?").bind(sourceId, forged.id).run();
    const [data] = await loadWidgetData(ctxWith({}), [await widgetRow(forged.id)]);
    expect(data).toEqual({ error: { code: "data_source_unavailable", message: "The widget's data source no longer exists" } });
  });
});
