// Widget data on a real MySQL-protocol server (MariaDB on 127.0.0.1), end to end through the API.
import type { Connection } from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadWidgetData } from "../src/services/widget-data";
import { newDashboard, newWidget } from "./crud-helpers";
import { view, ctxWith, widgetRow } from "./widget-data-helpers";
import { MY, mysqlAdmin, sourceBody } from "./db-targets";
import { ISO_MS, api, registerOrg } from "./helpers";

const PROBE = "edgeboard_widget_probe";
let admin: Connection;

beforeAll(async () => {
  admin = await mysqlAdmin();
  await admin.query(`DROP TABLE IF EXISTS ${PROBE}`);
  await admin.query(`DROP SEQUENCE IF EXISTS ${PROBE}_seq`);
  await admin.query(`CREATE TABLE ${PROBE} (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL, amount DECIMAL(10, 2) NOT NULL)`);
  await admin.query(`INSERT INTO ${PROBE} SELECT seq, CONCAT('item ', seq), seq * 1.25 FROM seq_1_to_20`);
  await admin.query(`CREATE SEQUENCE ${PROBE}_seq`);
});
afterAll(async () => {
  await admin.query(`DROP TABLE IF EXISTS ${PROBE}`);
  await admin.query(`DROP SEQUENCE IF EXISTS ${PROBE}_seq`);
  await admin.end();
});

const probeState = async () => {
  const [rows] = await admin.query(`SELECT COUNT(*) AS n, CAST(SUM(amount) AS CHAR) AS total FROM ${PROBE}`);
  const [tables] = await admin.query(`SHOW TABLES LIKE '${PROBE}%'`);
  return { ...(rows as object[])[0], tables: (tables as object[]).length };
};

async function setup() {
  const user = await registerOrg();
  const source = await api("POST", "/api/data-sources", { token: user.token, body: sourceBody(MY) });
  expect(source.status, JSON.stringify(source.body)).toBe(201);
  const dashboard = await newDashboard(user);
  let y = 0;
  const widget = (query: string, config: Record<string, unknown> = {}, title = query.slice(0, 100)) =>
    newWidget(user, dashboard.id, { title, dataSourceId: source.body.id, config: { query, ...config }, y: y++ });
  return { user, dashboard, widget };
}


describe("MySQL/MariaDB widget data", () => {
  it("returns typed columns and JSON-safe values", async () => {
    const { user, dashboard, widget } = await setup();
    await widget(`SELECT 42 AS i, CAST(9007199254740993 AS SIGNED) AS big, CAST(12.5 AS DECIMAL(6,2)) AS dec_, 1.5e0 AS f,
      'héllo' AS s, CAST('2024-02-29' AS DATE) AS d, CAST('2024-02-29 13:14:15.678' AS DATETIME(3)) AS ts,
      X'00FF10' AS raw, CAST('08:30' AS TIME) AS t, NULL AS nothing, 1 AS i`);
    const [w] = await view(user, dashboard.id);
    expect(w!.data).toEqual({
      columns: [
        { name: "i", type: "integer" },
        { name: "big", type: "bigint" },
        { name: "dec_", type: "decimal" },
        { name: "f", type: "number" },
        { name: "s", type: "string" },
        { name: "d", type: "date" },
        { name: "ts", type: "datetime" },
        { name: "raw", type: "bytes" },
        { name: "t", type: "time" },
        { name: "nothing", type: "unknown" },
        { name: "i", type: "integer" },
      ],
      rows: [[42, "9007199254740993", "12.50", 1.5, "héllo", "2024-02-29", "2024-02-29T13:14:15.678Z", "AP8Q", "08:30:00", null, 1]],
      rowCount: 1,
      truncated: false,
      durationMs: expect.any(Number),
      cachedAt: expect.stringMatching(ISO_MS),
    });
  });

  it("binds params as values, so an injection string changes nothing", async () => {
    const { user, dashboard, widget } = await setup();
    const before = await probeState();
    const query = `SELECT COUNT(*) AS n FROM ${PROBE} WHERE name = :name OR id = :id OR name = :name`;
    await widget(query, { params: { name: "item 3", id: 7 } }, "ok");
    await widget(query, { params: { name: `x' OR 1=1; DROP TABLE ${PROBE}; -- `, id: -1 } }, "evil");
    await widget(query, { params: { name: `x\\' OR 1=1 -- `, id: -1 } }, "backslash");
    const byTitle = Object.fromEntries((await view(user, dashboard.id)).map((w) => [w.title, w.data]));
    expect(byTitle.ok.rows).toEqual([["2"]]);
    expect(byTitle.evil.rows).toEqual([["0"]]);
    expect(byTitle.backslash.rows).toEqual([["0"]]);
    expect(await probeState()).toEqual(before);
  });

  it("refuses writes, several statements, file writes and writes hidden inside reads, changing nothing", async () => {
    const { user, dashboard, widget } = await setup();
    const before = await probeState();
    const [[seqBefore]] = (await admin.query(`SELECT NEXT VALUE FOR ${PROBE}_seq AS v`)) as unknown as [[{ v: number }]];
    const refused = [
      `UPDATE ${PROBE} SET amount = 0`,
      `DELETE FROM ${PROBE}`,
      `DROP TABLE ${PROBE}`,
      `INSERT INTO ${PROBE} VALUES (999, 'x', 1)`,
      `SELECT 1; DELETE FROM ${PROBE}`,
      `SELECT * FROM ${PROBE} INTO OUTFILE '/tmp/edgeboard-probe.txt'`,
      `SELECT /*! 1; DELETE FROM ${PROBE} */ 2`,
      `SET SESSION TRANSACTION READ WRITE`,
    ];
    // Starts like a read, so only the READ ONLY transaction stops it.
    const readOnlyViolations = [`SELECT NEXTVAL(${PROBE}_seq) AS v`];
    for (const q of [...refused, ...readOnlyViolations]) await widget(q);
    const widgets = await view(user, dashboard.id);
    for (const w of widgets) expect(w.data, w.title).toEqual({ error: { code: "forbidden_statement", message: expect.any(String) } });
    expect(widgets.at(-1)!.data.error.message).toMatch(/READ ONLY transaction/);
    expect(await probeState()).toEqual(before);
    const [[seqAfter]] = (await admin.query(`SELECT NEXT VALUE FOR ${PROBE}_seq AS v`)) as unknown as [[{ v: number }]];
    // Only the two reads above advanced the sequence; the widget's NEXTVAL was rolled back or refused.
    expect(Number(seqAfter.v)).toBe(Number(seqBefore.v) + 1);
  });

  it("caps rows and says truncated", async () => {
    const { user, dashboard, widget } = await setup();
    await widget("SELECT seq FROM seq_1_to_100000", {}, "big");
    await widget("SELECT seq FROM seq_1_to_5000", {}, "exact");
    await widget("SELECT 1 AS after_the_big_one", {}, "after");
    const byTitle = Object.fromEntries((await view(user, dashboard.id)).map((w) => [w.title, w.data]));
    expect([byTitle.big.rowCount, byTitle.big.truncated, byTitle.big.rows.length, byTitle.big.rows.at(-1)]).toEqual([5000, true, 5000, ["5000"]]);
    expect([byTitle.exact.rowCount, byTitle.exact.truncated]).toEqual([5000, false]);
    expect(byTitle.after.rows).toEqual([[1]]);
  });

  it("stops a long query at the statement timeout, sparing the others", async () => {
    const { widget } = await setup();
    const slow = await widgetRow((await widget("SELECT SLEEP(3) AS slept", { cacheTtlSeconds: 0 })).id);
    const fast = await widgetRow((await widget("SELECT 1 AS one", { cacheTtlSeconds: 0 })).id);
    const [timedOut, ok] = await loadWidgetData(ctxWith({ queryTimeoutMs: 300 }), [slow, fast]);
    expect(timedOut).toEqual({ error: { code: "timeout", message: "The query did not finish within 300 ms" } });
    expect(ok).toMatchObject({ rows: [[1]], cachedAt: null });
  });

  it("serves repeat views from the cache until refresh=true", async () => {
    const { user, dashboard, widget } = await setup();
    await admin.query(`UPDATE ${PROBE} SET name = 'first' WHERE id = 1`);
    const w = await widget(`SELECT name FROM ${PROBE} WHERE id = 1`);
    expect(w.data).toMatchObject({ rows: [["first"]], cachedAt: null });
    await admin.query(`UPDATE ${PROBE} SET name = 'second' WHERE id = 1`);
    const path = `/api/dashboards/${dashboard.id}/widgets/${w.id}/data`;
    expect((await api("GET", path, { token: user.token })).body.data).toMatchObject({ rows: [["first"]], cachedAt: expect.any(String) });
    expect((await api("GET", `${path}?refresh=true`, { token: user.token })).body.data).toMatchObject({ rows: [["second"]], cachedAt: null });
    await admin.query(`UPDATE ${PROBE} SET name = 'item 1' WHERE id = 1`);
  });
});
