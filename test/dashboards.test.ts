import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { NIL_UUID, fieldsOf, newDashboard, newWidget } from "./crud-helpers";
import { ISO_MS, UUID, addMember, api, expectError, registerOrg, type TestUser } from "./helpers";

const orgOf = async (user: TestUser) =>
  (await env.DB.prepare("SELECT organization_id AS org FROM users WHERE id = ?").bind(user.id).first<{ org: string }>())!.org;

/** Inserts a dashboard row directly, to control timestamps and ids (and counts it, as the service does). */
async function insertDashboard(org: string, id: string, name: string, createdAt: string) {
  await env.DB.batch([
    env.DB.prepare(
      "INSERT INTO dashboards (id, organization_id, name, is_public, layout, created_at, updated_at) VALUES (?, ?, ?, 0, '{}', ?, ?)",
    ).bind(id, org, name, createdAt, createdAt),
    env.DB.prepare("UPDATE organizations SET dashboard_count = dashboard_count + 1 WHERE id = ?").bind(org),
  ]);
}

describe("POST /api/dashboards", () => {
  it("creates a dashboard and answers 201 with the spec's shape", async () => {
    const admin = await registerOrg();
    const res = await api("POST", "/api/dashboards", {
      token: admin.token,
      body: { name: "  New Dashboard  ", description: "Dashboard description", isPublic: false, layout: { cols: 12 } },
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(UUID),
      name: "New Dashboard",
      description: "Dashboard description",
      isPublic: false,
      version: 1,
      layout: { cols: 12 },
      createdAt: expect.stringMatching(ISO_MS),
      updatedAt: expect.stringMatching(ISO_MS),
    });
    expect(res.body.updatedAt).toBe(res.body.createdAt);
  });

  it("defaults description to null, isPublic to false and layout to {}", async () => {
    const admin = await registerOrg();
    const res = await api("POST", "/api/dashboards", { token: admin.token, body: { name: "Bare" } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: "Bare", description: null, isPublic: false, layout: {} });
  });

  it("lets editors create but not viewers", async () => {
    const admin = await registerOrg();
    const editor = await addMember(admin, "editor");
    const viewer = await addMember(admin, "viewer");
    expect((await api("POST", "/api/dashboards", { token: editor.token, body: { name: "By editor" } })).status).toBe(201);
    expectError(await api("POST", "/api/dashboards", { token: viewer.token, body: { name: "By viewer" } }), 403, "forbidden");
  });

  it("requires a token", async () => {
    expectError(await api("POST", "/api/dashboards", { body: { name: "x" } }), 401, "unauthorized");
    expectError(await api("GET", "/api/dashboards"), 401, "unauthorized");
    expectError(await api("GET", `/api/dashboards/${NIL_UUID}`), 401, "unauthorized");
    expectError(await api("PATCH", `/api/dashboards/${NIL_UUID}`, { body: { name: "x" } }), 401, "unauthorized");
    expectError(await api("DELETE", `/api/dashboards/${NIL_UUID}`), 401, "unauthorized");
  });

  it("lists every failing field, with unknown fields named", async () => {
    const admin = await registerOrg();
    const res = await api("POST", "/api/dashboards", {
      token: admin.token,
      body: { name: "   ", description: "d".repeat(2001), isPublic: "yes", layout: [1, 2], owner: "me", extra: 1 },
    });
    const details = expectError(res, 400, "validation_error");
    expect(fieldsOf(details)).toEqual(["description", "extra", "isPublic", "layout", "name", "owner"]);
  });

  it("enforces the name and layout limits", async () => {
    const admin = await registerOrg();
    const tooLong = await api("POST", "/api/dashboards", { token: admin.token, body: { name: "n".repeat(201) } });
    expect(fieldsOf(expectError(tooLong, 400, "validation_error"))).toEqual(["name"]);
    const okLong = await api("POST", "/api/dashboards", { token: admin.token, body: { name: "n".repeat(200) } });
    expect(okLong.status).toBe(201);
    const missing = await api("POST", "/api/dashboards", { token: admin.token, body: {} });
    expect(fieldsOf(expectError(missing, 400, "validation_error"))).toEqual(["name"]);
    const bigLayout = { blob: "x".repeat(64 * 1024) };
    const big = await api("POST", "/api/dashboards", { token: admin.token, body: { name: "Big", layout: bigLayout } });
    expect(fieldsOf(expectError(big, 400, "validation_error"))).toEqual(["layout"]);
    const nullLayout = await api("POST", "/api/dashboards", { token: admin.token, body: { name: "Null", layout: null } });
    expect(fieldsOf(expectError(nullLayout, 400, "validation_error"))).toEqual(["layout"]);
  });

  it("answers 413 for a body over 1 MiB, 400 for malformed JSON and for a non-JSON content type", async () => {
    const admin = await registerOrg();
    const huge = JSON.stringify({ name: "Huge", layout: { blob: "x".repeat(1_100_000) } });
    expectError(
      await api("POST", "/api/dashboards", { token: admin.token, rawBody: huge, headers: { "content-type": "application/json" } }),
      413,
      "payload_too_large",
    );
    expectError(
      await api("POST", "/api/dashboards", { token: admin.token, rawBody: '{"name": "x",', headers: { "content-type": "application/json" } }),
      400,
      "validation_error",
    );
    expectError(
      await api("POST", "/api/dashboards", { token: admin.token, rawBody: "name=x", headers: { "content-type": "application/x-www-form-urlencoded" } }),
      400,
      "validation_error",
    );
    expectError(
      await api("PATCH", `/api/dashboards/${NIL_UUID}`, { token: admin.token, rawBody: "{oops", headers: { "content-type": "application/json" } }),
      400,
      "validation_error",
    );
    const list = await api("GET", "/api/dashboards", { token: admin.token });
    expect(list.body.meta.total).toBe(0);
  });
});

describe("GET /api/dashboards/:id", () => {
  it("returns the dashboard with its layout and its widgets ordered by y, then x", async () => {
    const admin = await registerOrg();
    const viewer = await addMember(admin, "viewer");
    const dashboard = await newDashboard(admin, { description: "Monthly sales overview", layout: { theme: "dark" } });
    const low = await newWidget(admin, dashboard.id, { title: "Low", x: 0, y: 5 });
    const right = await newWidget(admin, dashboard.id, { title: "Right", x: 6, y: 0 });
    const left = await newWidget(admin, dashboard.id, { title: "Left", x: 0, y: 0, type: "metric", config: { unit: "€" } });

    const res = await api("GET", `/api/dashboards/${dashboard.id}`, { token: viewer.token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: dashboard.id,
      name: "Sales Dashboard",
      description: "Monthly sales overview",
      isPublic: false,
      version: 1,
      layout: { theme: "dark" },
      createdAt: dashboard.createdAt,
      updatedAt: dashboard.updatedAt,
      widgets: [left, right, low],
    });
    expect(res.body.widgets[0]).toEqual({
      id: left.id,
      type: "metric",
      title: "Left",
      config: { unit: "€" },
      data: {},
      dashboardId: dashboard.id,
      dataSourceId: null,
      x: 0,
      y: 0,
      width: 6,
      height: 4,
      createdAt: expect.stringMatching(ISO_MS),
      updatedAt: expect.stringMatching(ISO_MS),
    });
  });

  it("answers 404 for an unknown id and for a non-UUID id", async () => {
    const admin = await registerOrg();
    expectError(await api("GET", `/api/dashboards/${NIL_UUID}`, { token: admin.token }), 404, "not_found");
    expectError(await api("GET", "/api/dashboards/not-a-uuid", { token: admin.token }), 404, "not_found");
    expectError(await api("GET", "/api/dashboards/1%27%20OR%201=1", { token: admin.token }), 404, "not_found");
    expectError(await api("PATCH", "/api/dashboards/123", { token: admin.token, body: { name: "x" } }), 404, "not_found");
    expectError(await api("DELETE", "/api/dashboards/123", { token: admin.token }), 404, "not_found");
  });
});

describe("PATCH /api/dashboards/:id", () => {
  it("changes only the given fields and answers 200", async () => {
    const admin = await registerOrg();
    const editor = await addMember(admin, "editor");
    const dashboard = await newDashboard(admin, { description: "Old", layout: { a: 1 } });

    const res = await api("PATCH", `/api/dashboards/${dashboard.id}`, { token: editor.token, body: { name: " Renamed ", isPublic: true } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: dashboard.id,
      name: "Renamed",
      description: "Old",
      isPublic: true,
      version: 2,
      layout: { a: 1 },
      createdAt: dashboard.createdAt,
      updatedAt: expect.stringMatching(ISO_MS),
    });
    expect(res.body.updatedAt >= dashboard.updatedAt).toBe(true);

    const cleared = await api("PATCH", `/api/dashboards/${dashboard.id}`, {
      token: editor.token,
      body: { description: null, layout: { b: [1, 2] } },
    });
    expect(cleared.status).toBe(200);
    expect(cleared.body).toMatchObject({ name: "Renamed", description: null, isPublic: true, layout: { b: [1, 2] } });

    const read = await api("GET", `/api/dashboards/${dashboard.id}`, { token: admin.token });
    expect(read.body).toMatchObject({ name: "Renamed", description: null, isPublic: true, layout: { b: [1, 2] } });
    const row = await env.DB.prepare("SELECT updated_by FROM dashboards WHERE id = ?").bind(dashboard.id).first<{ updated_by: string }>();
    expect(row?.updated_by).toBe(editor.id);
  });

  it("rejects an empty patch, unknown fields and invalid values", async () => {
    const admin = await registerOrg();
    const dashboard = await newDashboard(admin);
    expectError(await api("PATCH", `/api/dashboards/${dashboard.id}`, { token: admin.token, body: {} }), 400, "validation_error");
    const res = await api("PATCH", `/api/dashboards/${dashboard.id}`, {
      token: admin.token,
      body: { name: "", isPublic: 1, id: NIL_UUID, createdAt: "2020-01-01T00:00:00.000Z" },
    });
    expect(fieldsOf(expectError(res, 400, "validation_error"))).toEqual(["createdAt", "id", "isPublic", "name"]);
    const after = await api("GET", `/api/dashboards/${dashboard.id}`, { token: admin.token });
    expect(after.body.name).toBe("Sales Dashboard");
  });

  it("is forbidden to viewers and 404 for unknown ids", async () => {
    const admin = await registerOrg();
    const viewer = await addMember(admin, "viewer");
    const dashboard = await newDashboard(admin);
    expectError(await api("PATCH", `/api/dashboards/${dashboard.id}`, { token: viewer.token, body: { name: "x" } }), 403, "forbidden");
    expectError(await api("PATCH", `/api/dashboards/${NIL_UUID}`, { token: admin.token, body: { name: "x" } }), 404, "not_found");
  });
});

describe("DELETE /api/dashboards/:id", () => {
  it("answers 204 and removes the dashboard and its widgets", async () => {
    const admin = await registerOrg();
    const editor = await addMember(admin, "editor");
    const viewer = await addMember(admin, "viewer");
    const dashboard = await newDashboard(admin);
    const keep = await newDashboard(admin, { name: "Keep" });
    await newWidget(admin, dashboard.id);
    await newWidget(admin, dashboard.id, { y: 4 });
    const kept = await newWidget(admin, keep.id);

    expectError(await api("DELETE", `/api/dashboards/${dashboard.id}`, { token: viewer.token }), 403, "forbidden");
    const res = await api("DELETE", `/api/dashboards/${dashboard.id}`, { token: editor.token });
    expect(res.status).toBe(204);
    expect(res.body).toBe("");
    expectError(await api("GET", `/api/dashboards/${dashboard.id}`, { token: admin.token }), 404, "not_found");
    expectError(await api("DELETE", `/api/dashboards/${dashboard.id}`, { token: admin.token }), 404, "not_found");
    const left = await env.DB.prepare("SELECT id FROM widgets WHERE dashboard_id = ?").bind(dashboard.id).all();
    expect(left.results).toEqual([]);
    const other = await api("GET", `/api/dashboards/${keep.id}`, { token: admin.token });
    expect(other.body.widgets.map((w: { id: string }) => w.id)).toEqual([kept.id]);
  });
});

describe("GET /api/dashboards", () => {
  it("pages with the spec's meta and list items with exactly the spec's fields", async () => {
    const admin = await registerOrg();
    const viewer = await addMember(admin, "viewer");
    for (let i = 0; i < 5; i++) await newDashboard(admin, { name: `D${i}`, description: `Desc ${i}`, layout: { i } });

    const first = await api("GET", "/api/dashboards?limit=2", { token: viewer.token });
    expect(first.status).toBe(200);
    expect(first.body.meta).toEqual({ total: 5, page: 1, limit: 2, pages: 3 });
    expect(first.body.data).toHaveLength(2);
    expect(first.body.data[0]).toEqual({
      id: expect.stringMatching(UUID),
      name: expect.any(String),
      description: expect.any(String),
      isPublic: false,
      version: 1,
      createdAt: expect.stringMatching(ISO_MS),
      updatedAt: expect.stringMatching(ISO_MS),
    });
    const third = await api("GET", "/api/dashboards?limit=2&page=3", { token: viewer.token });
    expect(third.body.meta).toEqual({ total: 5, page: 3, limit: 2, pages: 3 });
    expect(third.body.data).toHaveLength(1);
    const beyond = await api("GET", "/api/dashboards?limit=2&page=9", { token: viewer.token });
    expect(beyond.body).toEqual({ data: [], meta: { total: 5, page: 9, limit: 2, pages: 3 } });

    const defaults = await api("GET", "/api/dashboards", { token: viewer.token });
    expect(defaults.body.meta).toEqual({ total: 5, page: 1, limit: 20, pages: 1 });
  });

  it("answers an empty organization with an empty page", async () => {
    const admin = await registerOrg();
    const res = await api("GET", "/api/dashboards", { token: admin.token });
    expect(res.body).toEqual({ data: [], meta: { total: 0, page: 1, limit: 20, pages: 0 } });
  });

  it("keeps the stored total exact through creates, deletes, a delete that lost a race and a refused If-Match", async () => {
    const admin = await registerOrg();
    const org = await orgOf(admin);
    const total = async () => (await api("GET", "/api/dashboards", { token: admin.token })).body.meta.total;
    const counted = async () =>
      (await env.DB.prepare("SELECT count(*) AS n FROM dashboards WHERE organization_id = ?").bind(org).first<{ n: number }>())!.n;

    const made = await Promise.all([0, 1, 2, 3, 4].map((i) => newDashboard(admin, { name: `D${i}`, isPublic: i % 2 === 0 })));
    expect(await total()).toBe(5);
    // Two deletes of one dashboard at once: one removes it (the other may find it gone first, or
    // delete nothing), and it is counted out once.
    const twice = await Promise.all([0, 1].map(() => api("DELETE", `/api/dashboards/${made[0]!.id}`, { token: admin.token })));
    expect(twice.map((r) => r.status)).toContain(204);
    for (const res of twice) expect([204, 404]).toContain(res.status);
    expect(await total()).toBe(4);
    const stale = await api("DELETE", `/api/dashboards/${made[1]!.id}`, { token: admin.token, headers: { "If-Match": '"999"' } });
    expect(stale.status).toBe(412);
    expect(await total()).toBe(4);
    expect(await counted()).toBe(4);
    // The filtered totals are counted; together they make the stored one.
    const part = async (query: string) => (await api("GET", `/api/dashboards?${query}`, { token: admin.token })).body.meta.total;
    expect((await part("isPublic=true")) + (await part("isPublic=false"))).toBe(4);
  });

  it("sorts by -createdAt by default and by name case-insensitively, ties broken by id", async () => {
    const admin = await registerOrg();
    const org = await orgOf(admin);
    const ids = [
      "10000000-0000-4000-8000-000000000003",
      "10000000-0000-4000-8000-000000000001",
      "10000000-0000-4000-8000-000000000004",
      "10000000-0000-4000-8000-000000000002",
    ];
    // Same timestamp and same name for all but one: only the id can order them.
    await insertDashboard(org, ids[0]!, "same", "2024-01-01T00:00:00.000Z");
    await insertDashboard(org, ids[1]!, "same", "2024-01-01T00:00:00.000Z");
    await insertDashboard(org, ids[2]!, "Same", "2024-01-01T00:00:00.000Z");
    await insertDashboard(org, ids[3]!, "apple", "2023-06-01T00:00:00.000Z");

    const byCreatedDesc = await api("GET", "/api/dashboards", { token: admin.token });
    expect(byCreatedDesc.body.data.map((d: { id: string }) => d.id)).toEqual([ids[2], ids[0], ids[1], ids[3]]);
    const byCreatedAsc = await api("GET", "/api/dashboards?sort=createdAt", { token: admin.token });
    expect(byCreatedAsc.body.data.map((d: { id: string }) => d.id)).toEqual([ids[3], ids[1], ids[0], ids[2]]);
    const byName = await api("GET", "/api/dashboards?sort=name", { token: admin.token });
    expect(byName.body.data.map((d: { id: string }) => d.id)).toEqual([ids[3], ids[1], ids[0], ids[2]]);
    const byNameDesc = await api("GET", "/api/dashboards?sort=-name", { token: admin.token });
    expect(byNameDesc.body.data.map((d: { id: string }) => d.id)).toEqual([ids[2], ids[0], ids[1], ids[3]]);
    const byUpdated = await api("GET", "/api/dashboards?sort=updatedAt", { token: admin.token });
    expect(byUpdated.body.data.map((d: { id: string }) => d.id)).toEqual([ids[3], ids[1], ids[0], ids[2]]);

    // Paging through ties one row at a time neither repeats nor skips a row.
    const seen: string[] = [];
    for (let page = 1; page <= 4; page++) {
      const res = await api("GET", `/api/dashboards?sort=name&limit=1&page=${page}`, { token: admin.token });
      seen.push(res.body.data[0].id);
    }
    expect(seen).toEqual([ids[3], ids[1], ids[0], ids[2]]);
  });

  it("filters by isPublic and by a case-insensitive name search with wildcards taken literally", async () => {
    const admin = await registerOrg();
    await newDashboard(admin, { name: "Sales Overview", isPublic: true });
    await newDashboard(admin, { name: "100% done" });
    await newDashboard(admin, { name: "100 percent" });
    await newDashboard(admin, { name: "a_b" });
    await newDashboard(admin, { name: "axb", isPublic: true });
    await newDashboard(admin, { name: "back\\slash" });

    const names = async (query: string) =>
      (await api("GET", `/api/dashboards?sort=name&${query}`, { token: admin.token })).body.data.map((d: { name: string }) => d.name);

    expect(await names("isPublic=true")).toEqual(["axb", "Sales Overview"]);
    expect(await names("isPublic=false")).toEqual(["100 percent", "100% done", "a_b", "back\\slash"]);
    expect(await names("q=SALES")).toEqual(["Sales Overview"]);
    expect(await names("q=%25")).toEqual(["100% done"]);
    expect(await names("q=_")).toEqual(["a_b"]);
    expect(await names("q=%5C")).toEqual(["back\\slash"]);
    expect(await names("q=100")).toEqual(["100 percent", "100% done"]);
    expect(await names("q=100&isPublic=true")).toEqual([]);
    expect(await names("q=")).toHaveLength(6);
    const counted = await api("GET", "/api/dashboards?q=a", { token: admin.token });
    expect(counted.body.meta.total).toBe(4);
  });

  it("rejects out-of-range and unknown query values, naming the field", async () => {
    const admin = await registerOrg();
    const field = async (query: string) =>
      fieldsOf(expectError(await api("GET", `/api/dashboards?${query}`, { token: admin.token }), 400, "validation_error"));
    expect(await field("limit=0")).toEqual(["limit"]);
    expect(await field("limit=101")).toEqual(["limit"]);
    expect(await field("limit=abc")).toEqual(["limit"]);
    expect(await field("page=0")).toEqual(["page"]);
    expect(await field("page=1.5")).toEqual(["page"]);
    expect(await field("sort=owner")).toEqual(["sort"]);
    expect(await field("sort=--name")).toEqual(["sort"]);
    expect(await field("isPublic=yes")).toEqual(["isPublic"]);
    expect(await field(`q=${"q".repeat(201)}`)).toEqual(["q"]);
    expect(await field("limit=0&page=-1&sort=x")).toEqual(["limit", "page", "sort"]);
    const ok = await api("GET", "/api/dashboards?limit=100&page=1&sort=-updatedAt", { token: admin.token });
    expect(ok.status).toBe(200);
  });
});

describe("GET /api/public/dashboards/:id", () => {
  it("shows a public dashboard without a token, read-only, with widgets and no user ids", async () => {
    const admin = await registerOrg();
    const dashboard = await newDashboard(admin, { name: "Shared", isPublic: true, layout: { cols: 12 } });
    const widget = await newWidget(admin, dashboard.id, { title: "Revenue", type: "bar_chart", config: { color: "red" } });

    const res = await api("GET", `/api/public/dashboards/${dashboard.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: dashboard.id,
      name: "Shared",
      description: null,
      isPublic: true,
      version: 1,
      layout: { cols: 12 },
      createdAt: dashboard.createdAt,
      updatedAt: dashboard.updatedAt,
      widgets: [{ id: widget.id, type: "bar_chart", title: "Revenue", config: { color: "red" }, data: {}, x: 0, y: 0, width: 6, height: 4 }],
    });
    const raw = JSON.stringify(res.body);
    expect(raw).not.toContain(admin.id);
    expect(raw).not.toContain(admin.email);

    expect((await api("PATCH", `/api/public/dashboards/${dashboard.id}`, { body: { name: "x" } })).status).toBe(405);
    expect((await api("DELETE", `/api/public/dashboards/${dashboard.id}`)).status).toBe(405);
  });

  it("answers 404 for a private, unknown or malformed id, and again once made private", async () => {
    const admin = await registerOrg();
    const secret = await newDashboard(admin, { name: "Private" });
    await newWidget(admin, secret.id);
    expectError(await api("GET", `/api/public/dashboards/${secret.id}`), 404, "not_found");
    expectError(await api("GET", `/api/public/dashboards/${NIL_UUID}`), 404, "not_found");
    expectError(await api("GET", "/api/public/dashboards/nope"), 404, "not_found");

    const shared = await newDashboard(admin, { name: "Shared then hidden", isPublic: true });
    expect((await api("GET", `/api/public/dashboards/${shared.id}`)).status).toBe(200);
    await api("PATCH", `/api/dashboards/${shared.id}`, { token: admin.token, body: { isPublic: false } });
    expectError(await api("GET", `/api/public/dashboards/${shared.id}`), 404, "not_found");
  });
});
