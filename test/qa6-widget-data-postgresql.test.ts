// QA: widget queries on PostgreSQL must leave the database exactly as they found it, including
// the few writes PostgreSQL lets through a READ ONLY transaction (large objects, notifications,
// session settings): the transaction is rolled back, never committed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newDashboard, newWidget } from "./crud-helpers";
import { PG, pgAdmin, sourceBody } from "./db-targets";
import { api, registerOrg } from "./helpers";

const admin = pgAdmin();
const largeObjects = async () => (await admin.unsafe(`SELECT count(*)::int AS n FROM pg_largeobject_metadata`))[0]!.n as number;

beforeAll(async () => {
  await admin.unsafe(`SELECT lo_unlink(oid) FROM pg_largeobject_metadata`);
});
afterAll(async () => {
  await admin.unsafe(`SELECT lo_unlink(oid) FROM pg_largeobject_metadata`);
  await admin.end();
});

describe("PostgreSQL widget queries change nothing", () => {
  it("large objects a READ ONLY transaction allows are rolled back, not committed", async () => {
    const user = await registerOrg();
    const source = await api("POST", "/api/data-sources", { token: user.token, body: sourceBody(PG) });
    expect(source.status).toBe(201);
    const dashboard = await newDashboard(user);
    const before = await largeObjects();
    let y = 0;
    for (const query of [`SELECT lo_from_bytea(0, 'qa6') AS lo`, `SELECT lo_create(0) AS lo`]) {
      const widget = await newWidget(user, dashboard.id, { dataSourceId: source.body.id, config: { query, cacheTtlSeconds: 0 }, y: y++ });
      // The query still answers (PostgreSQL ran it); only its effect is discarded.
      expect(widget.data).toMatchObject({ columns: [{ name: "lo", type: "integer" }], rowCount: 1 });
    }
    const view = await api("GET", `/api/dashboards/${dashboard.id}`, { token: user.token });
    expect(view.status).toBe(200);
    expect(await largeObjects()).toBe(before);
  });
});
