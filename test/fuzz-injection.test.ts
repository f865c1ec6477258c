// Injection strings stay values (issue 8): every hostile string of test/fuzz/values.ts goes into
// every string field a client can write, and into every query parameter, path id and a header.
// A write is stored and read back exactly (after the field's documented trim), or refused with
// a 400 where the field constrains its format; the database gains exactly the rows the writes
// made and keeps its schema; no response carries an injected header; an encoded traversal in a
// path id is an unknown id of the route it was sent to, never another route.
import { env } from "cloudflare:test";
import { drizzle } from "drizzle-orm/d1";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as schema from "../src/db/schema";
import { dataSources } from "../src/db/schema";
import { loadConfig } from "../src/env";
import { decryptSecret } from "../src/lib/crypto";
import { newDashboard, newWidget, widgetBody } from "./crud-helpers";
import { changedTables, snapshot } from "./fuzz/harness";
import { INJECTION_STRINGS, LONE_SURROGATES } from "./fuzz/values";
import { api, registerOrg, type ApiResponse, type RequestOptions, type TestUser } from "./helpers";
import { createSink } from "./receiver/client";
import { inject } from "vitest";

const STRINGS = [...INJECTION_STRINGS, ...LONE_SURROGATES];
const db = drizzle(env.DB, { schema });
let attacks = 0;

/** Every response of this file: no header a value could have smuggled in. */
async function call(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse> {
  const res = await api(method, path, options);
  for (const [name, value] of res.headers) {
    expect(name, `${method} ${path}`).not.toMatch(/injected/i);
    expect(value, `${method} ${path}: header ${name}`).not.toMatch(/[\r\n]/);
  }
  return res;
}

/** Row counts of every app table, and the schema, in one round trip. */
async function counts(): Promise<{ rows: Record<string, number>; schemaText: string }> {
  const tables = ["organizations", "users", "refresh_tokens", "data_sources", "dashboards", "widgets", "webhook_subscriptions", "webhook_deliveries", "webhook_delivery_attempts"];
  const results = await env.DB.batch([
    env.DB.prepare("SELECT type, name, sql FROM sqlite_master ORDER BY type, name"),
    ...tables.map((t) => env.DB.prepare(`SELECT count(*) AS n FROM ${t}`)),
  ]);
  const rows: Record<string, number> = {};
  tables.forEach((t, i) => (rows[t] = (results[i + 1]!.results[0] as { n: number }).n));
  return { rows, schemaText: JSON.stringify(results[0]!.results) };
}

/** Runs a write and checks it added exactly `added` rows (per table) and left the schema alone. */
async function write(added: Record<string, number>, run: () => Promise<ApiResponse>): Promise<ApiResponse> {
  const before = await counts();
  const res = await run();
  const after = await counts();
  expect(after.schemaText).toBe(before.schemaText);
  const expected = { ...before.rows };
  if (res.status >= 200 && res.status < 300) for (const [t, n] of Object.entries(added)) expected[t] = expected[t]! + n;
  expect(after.rows, `rows after ${res.status}`).toEqual(expected);
  return res;
}

/**
 * A field either stores the string exactly (after trimming, for fields documented to trim) or,
 * when it constrains its format, refuses it with a 400 naming it.
 */
function expectStored(res: ApiResponse, sent: string, got: () => unknown, field: string, rule: { trim?: boolean; constrained?: boolean }) {
  if (!wellFormed(sent)) {
    // No UTF-8 can hold a lone surrogate: every field refuses it (src/middleware/body.ts).
    expect(res.status).toBe(400);
    expect(res.body.error.details[0].message).toMatch(/valid Unicode/);
    return;
  }
  if (res.status === 400 && rule.constrained) {
    expect(res.body.error.details.map((d: { field: string }) => d.field), JSON.stringify(sent)).toContain(field);
    return;
  }
  expect(res.status, `${field} = ${JSON.stringify(sent)}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
  // Compared as JSON text: escapes keep a lone surrogate printable in a failure report.
  expect(JSON.stringify(got()), `${field} = ${JSON.stringify(sent)}`).toBe(JSON.stringify(rule.trim ? sent.trim() : sent));
}

const wellFormed = (text: string) => !/[\ud800-\udfff]/u.test(text);

/** Deep equality, reported as JSON text (see expectStored). */
const expectSameJson = (got: unknown, sent: unknown) => expect(JSON.stringify(got)).toBe(JSON.stringify(sent));

const schemaBefore = { text: "" };
let admin: TestUser;
let hooksAdmin: TestUser;
const fixtures = {} as { dashboard: { id: string }; widget: { id: string } };

beforeAll(async () => {
  admin = await registerOrg({ organizationName: "Injection" });
  // Webhooks in an organization of their own: no dashboard or widget write there queues a delivery.
  hooksAdmin = await registerOrg({ organizationName: "Injection hooks" });
  fixtures.dashboard = await newDashboard(admin, { name: "Fixture" });
  fixtures.widget = await newWidget(admin, fixtures.dashboard.id);
  schemaBefore.text = (await counts()).schemaText;
});

afterAll(async () => {
  expect((await counts()).schemaText).toBe(schemaBefore.text);
  console.log(`fuzz-injection: ${attacks} injection attacks (${STRINGS.length} strings × every string field, parameter and path id)`);
});

describe.each(STRINGS.map((s) => [JSON.stringify(s).slice(0, 40), s] as const))("the string %s", (_label, s) => {
  it("stays a value in every dashboard and widget field", async () => {
    const layoutKey = s === "__proto__" ? "proto" : s; // "__proto__" as a key is refused by design (test/fuzz-regressions)
    const layout = { [layoutKey]: s, nested: { list: [s, { k: s }] } };
    const created = await write({ dashboards: 1 }, () => call("POST", "/api/dashboards", { token: admin.token, body: { name: s, description: s, layout } }));
    attacks += 4;
    if (!wellFormed(s)) return expectStored(created, s, () => undefined, "name", {});
    const id = created.body.id;
    const read = async () => (await call("GET", `/api/dashboards/${id}`, { token: admin.token })).body;
    const got = await read();
    expectStored(created, s, () => got.name, "name", { trim: true });
    expectStored(created, s, () => got.description, "description", {});
    expectSameJson(got.layout, layout);

    const patched = await write({}, () => call("PATCH", `/api/dashboards/${id}`, { token: admin.token, body: { name: `${s}!`, description: `!${s}`, layout: { [`${layoutKey}2`]: [s] } } }));
    attacks += 3;
    const again = await read();
    expectStored(patched, `${s}!`, () => again.name, "name", { trim: true });
    expectStored(patched, `!${s}`, () => again.description, "description", {});
    expectSameJson(again.layout, { [`${layoutKey}2`]: [s] });

    const config = { [layoutKey]: s, label: s, series: [{ name: s }] };
    const widget = await write({ widgets: 1 }, () =>
      call("POST", `/api/dashboards/${id}/widgets`, { token: admin.token, body: widgetBody({ title: s, config }) }),
    );
    attacks += 3;
    const readWidget = async () => (await call("GET", `/api/dashboards/${id}/widgets/${widget.body.id}`, { token: admin.token })).body;
    const w = await readWidget();
    expectStored(widget, s, () => w.title, "title", { trim: true });
    expectSameJson(w.config, config);
    const patchedWidget = await write({}, () => call("PATCH", `/api/dashboards/${id}/widgets/${widget.body.id}`, { token: admin.token, body: { title: `${s}.`, config: { note: s } } }));
    attacks += 2;
    const w2 = await readWidget();
    expectStored(patchedWidget, `${s}.`, () => w2.title, "title", { trim: true });
    expectSameJson(w2.config, { note: s });
  });

  it("stays a value in every data-source field (or is refused where the format is constrained)", async () => {
    const config = loadConfig(env);
    const port = inject("closedPort");
    const base = { name: "Injected", type: "postgresql", connection: { host: "127.0.0.1", port, database: "db", username: "user", password: "pw" } };
    const cases: { field: string; body: any; got: (r: any) => unknown; rule: { trim?: boolean; constrained?: boolean } }[] = [
      { field: "name", body: { ...base, name: s }, got: (r) => r.name, rule: { trim: true } },
      { field: "connection.host", body: { ...base, connection: { ...base.connection, host: s } }, got: (r) => r.connection.host, rule: { trim: true, constrained: true } },
      { field: "connection.database", body: { ...base, connection: { ...base.connection, database: s } }, got: (r) => r.connection.database, rule: { constrained: true } },
      { field: "connection.username", body: { ...base, connection: { ...base.connection, username: s } }, got: (r) => r.connection.username, rule: { constrained: true } },
    ];
    for (const c of cases) {
      const res = await write({ data_sources: 1 }, () => call("POST", "/api/data-sources", { token: admin.token, body: c.body }));
      attacks++;
      const got = res.status < 300 ? (await call("GET", `/api/data-sources/${res.body.id}`, { token: admin.token })).body : undefined;
      expectStored(res, s, () => c.got(got), c.field, c.rule);
    }
    // The password is never shown: what is stored must decrypt to exactly what was sent.
    const withPassword = await write({ data_sources: 1 }, () => call("POST", "/api/data-sources", { token: admin.token, body: { ...base, connection: { ...base.connection, password: s } } }));
    attacks++;
    if (!wellFormed(s)) expectStored(withPassword, s, () => undefined, "connection.password", {});
    else if (withPassword.status === 400) {
      expect(withPassword.body.error.details.map((d: { field: string }) => d.field)).toEqual(["connection.password"]);
    } else {
      expect(withPassword.status).toBe(201);
      const row = await db.select().from(dataSources).where(eq(dataSources.id, withPassword.body.id)).get();
      const stored = await decryptSecret({ ciphertext: row!.passwordEncrypted!, keyVersion: row!.passwordKeyVersion! }, config.encryptionKey);
      expect(JSON.stringify(stored)).toBe(JSON.stringify(s));
    }
  });

  it("stays a value in webhook fields", async () => {
    const sink = await createSink({ secrets: [] });
    const url = `${sink.url}/${s}`;
    const created = await write({ webhook_subscriptions: 1 }, () =>
      call("POST", "/api/webhooks", { token: hooksAdmin.token, body: { url, events: ["*"], description: s, active: false } }),
    );
    attacks += 2;
    const got = created.status < 300 ? (await call("GET", `/api/webhooks/${created.body.id}`, { token: hooksAdmin.token })).body : undefined;
    expectStored(created, url, () => got?.url, "url", { trim: true, constrained: true });
    if (created.status < 300) expect(JSON.stringify(got.description)).toBe(JSON.stringify(s.trim()));
    if (!wellFormed(s)) return;
    const described = await write({ webhook_subscriptions: 1 }, () =>
      call("POST", "/api/webhooks", { token: hooksAdmin.token, body: { url: sink.url, events: ["*"], description: s, active: false } }),
    );
    const read = (await call("GET", `/api/webhooks/${described.body.id}`, { token: hooksAdmin.token })).body;
    expectStored(described, s, () => read.description, "description", { trim: true });
  });

  it("stays a value in the caller's own names", async () => {
    const res = await write({}, () => call("PATCH", "/api/users/me", { token: admin.token, body: { firstName: s, lastName: `${s}-` } }));
    attacks += 2;
    const me = (await call("GET", "/api/users/me", { token: admin.token })).body;
    expectStored(res, s, () => me.firstName, "firstName", { trim: true });
    expectStored(res, `${s}-`, () => me.lastName, "lastName", { trim: true });
  });

  it("is a filter value, never SQL, in every query parameter", async () => {
    const q = s.replace(/[\ud800-\udfff]/g, ""); // a lone surrogate cannot be percent-encoded
    const enc = encodeURIComponent(q);
    // Search is a substring of the name: the result is exactly the caller's dashboards whose name holds it.
    const all = (await call("GET", "/api/dashboards?limit=100", { token: admin.token })).body.data as { id: string; name: string }[];
    const found = await call("GET", `/api/dashboards?limit=100&q=${enc}`, { token: admin.token });
    attacks++;
    expect(found.status).toBe(200);
    const needle = q.trim().toLowerCase();
    const expected = all.filter((d) => needle === "" || d.name.toLowerCase().includes(needle)).map((d) => d.id).sort();
    expect(found.body.data.map((d: { id: string }) => d.id).sort(), JSON.stringify(q)).toEqual(expected);
    const sources = await call("GET", `/api/data-sources?q=${enc}`, { token: admin.token });
    attacks++;
    expect(sources.status).toBe(200);

    // Enumerated parameters take only their values: anything else is a 400, not a query.
    const { dashboard, widget } = fixtures;
    for (const path of [
      `/api/dashboards?sort=${enc}`,
      `/api/dashboards?isPublic=${enc}`,
      `/api/dashboards?page=${enc}`,
      `/api/dashboards?limit=${enc}`,
      `/api/data-sources?type=${enc}`,
      `/api/data-sources?sort=${enc}`,
      `/api/users?role=${enc}`,
      `/api/users?sort=${enc}`,
      `/api/dashboards/${dashboard.id}/widgets/${widget.id}/data?refresh=${enc}`,
      `/api/webhooks?page=${enc}`,
    ]) {
      attacks++;
      const res = await call("GET", path, { token: path.startsWith("/api/webhooks") ? hooksAdmin.token : admin.token });
      expect(res.status, `${path}: ${JSON.stringify(res.body)}`).toBe(400);
    }
  });

  it("is an unknown id in every kind of path id, on the route it was sent to", async () => {
    const enc = encodeURIComponent(s.replace(/[\ud800-\udfff]/g, "\ufffd"));
    const { dashboard } = fixtures;
    const before = await snapshot();
    for (const [method, path, token] of [
      ["GET", `/api/dashboards/${enc}`, admin.token],
      ["PATCH", `/api/dashboards/${enc}`, admin.token],
      ["DELETE", `/api/dashboards/${enc}`, admin.token],
      ["GET", `/api/dashboards/${enc}/widgets`, admin.token],
      ["GET", `/api/dashboards/${dashboard.id}/widgets/${enc}`, admin.token],
      ["GET", `/api/dashboards/${dashboard.id}/widgets/${enc}/data`, admin.token],
      ["GET", `/api/public/dashboards/${enc}`, undefined],
      ["GET", `/api/data-sources/${enc}`, admin.token],
      ["POST", `/api/data-sources/${enc}/test`, admin.token],
      ["GET", `/api/users/${enc}`, admin.token],
      ["DELETE", `/api/users/${enc}`, admin.token],
      ["GET", `/api/webhooks/${enc}`, hooksAdmin.token],
      ["POST", `/api/webhooks/${enc}/ping`, hooksAdmin.token],
      ["GET", `/api/webhooks/${enc}/deliveries/${enc}`, hooksAdmin.token],
    ] as const) {
      attacks++;
      const res = await call(method, path, { token, ...(method === "PATCH" ? { body: { name: "x" } } : {}) });
      // The route's own id check answered (not "No route for …"): the path reached no other route.
      expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBe(404);
      expect(res.body.error.message, `${method} ${path}`).toBe("Resource not found");
    }
    expect(changedTables(before, await snapshot())).toEqual([]);
  });

  it("changes nothing as a header value", async () => {
    if (!/^[\x20-\x7e]*$/.test(s)) return; // not a legal header value: a client cannot send it
    const variants: Record<string, string>[] = [{ authorization: `Bearer ${s}` }, { authorization: s }, { "cf-connecting-ip": s }, { origin: s }, { "x-forwarded-for": s }];
    for (const headers of variants) {
      attacks++;
      const res = await call("GET", "/api/users/me", { headers });
      expect(res.status).toBe(401);
    }
  });
});

describe("encoded path traversal", () => {
  it.each([
    "..%2F..%2Fusers%2Fme",
    "%2e%2e%2f%2e%2e%2fusers%2fme",
    "..%5C..%5Cusers%5Cme",
    "%252e%252e%252fusers%252fme",
    "..%2f..%2f..%2fapi%2fusers",
    "%2E%2E%2Fhealth",
  ])("%s stays a dashboard id", async (segment) => {
    attacks++;
    const res = await call("GET", `/api/dashboards/${segment}`, { token: admin.token });
    expect(res.status).toBe(404);
    expect(res.body.error.message).toBe("Resource not found");
  });
});
