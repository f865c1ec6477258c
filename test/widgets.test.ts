import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { NIL_UUID, fieldsOf, newDashboard, newDataSource, newWidget, widgetBody } from "./crud-helpers";
import { ISO_MS, UUID, addMember, api, expectError, registerOrg } from "./helpers";

const WIDGET_TYPES = ["line_chart", "bar_chart", "area_chart", "pie_chart", "scatter_chart", "table", "metric", "text"];

describe("POST /api/dashboards/:dashboardId/widgets", () => {
  it("creates a widget and answers 201 with exactly the spec's fields", async () => {
    const admin = await registerOrg();
    const editor = await addMember(admin, "editor");
    const dashboard = await newDashboard(admin);
    const source = await newDataSource(admin);
    const res = await api("POST", `/api/dashboards/${dashboard.id}/widgets`, {
      token: editor.token,
      body: widgetBody({ title: "  Monthly Sales ", config: { metric: "revenue", series: [1, 2] }, dataSourceId: source.id }),
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(UUID),
      type: "line_chart",
      title: "Monthly Sales",
      config: { metric: "revenue", series: [1, 2] },
      data: {},
      dashboardId: dashboard.id,
      dataSourceId: source.id,
      x: 0,
      y: 0,
      width: 6,
      height: 4,
      createdAt: expect.stringMatching(ISO_MS),
      updatedAt: expect.stringMatching(ISO_MS),
    });
    expect(res.body.updatedAt).toBe(res.body.createdAt);
    const row = await env.DB.prepare("SELECT created_by, updated_by FROM widgets WHERE id = ?").bind(res.body.id).first();
    expect(row).toEqual({ created_by: editor.id, updated_by: editor.id });
  });

  it("defaults config to {} and dataSourceId to null, and accepts every widget type", async () => {
    const admin = await registerOrg();
    const dashboard = await newDashboard(admin);
    for (const type of WIDGET_TYPES) {
      const { config: _config, ...body } = widgetBody({ type });
      const res = await api("POST", `/api/dashboards/${dashboard.id}/widgets`, { token: admin.token, body });
      expect(res.status, type).toBe(201);
      expect(res.body).toMatchObject({ type, config: {}, dataSourceId: null, data: {} });
    }
    const nullSource = await api("POST", `/api/dashboards/${dashboard.id}/widgets`, {
      token: admin.token,
      body: widgetBody({ dataSourceId: null }),
    });
    expect(nullSource.body.dataSourceId).toBeNull();
  });

  it("validates the 12-column grid", async () => {
    const admin = await registerOrg();
    const dashboard = await newDashboard(admin);
    const failing = async (overrides: Record<string, unknown>) =>
      fieldsOf(
        expectError(
          await api("POST", `/api/dashboards/${dashboard.id}/widgets`, { token: admin.token, body: widgetBody(overrides) }),
          400,
          "validation_error",
        ),
      );
    expect(await failing({ x: -1 })).toEqual(["x"]);
    expect(await failing({ y: -1 })).toEqual(["y"]);
    expect(await failing({ x: 1.5 })).toEqual(["x"]);
    expect(await failing({ y: "3" })).toEqual(["y"]);
    expect(await failing({ width: 0 })).toEqual(["width"]);
    expect(await failing({ width: 13 })).toEqual(["width"]);
    expect(await failing({ height: 0 })).toEqual(["height"]);
    expect(await failing({ height: 49 })).toEqual(["height"]);
    expect(await failing({ x: 7, width: 6 })).toEqual(["width"]);
    expect(await failing({ x: 12, width: 1 })).toEqual(["x"]);
    expect(await failing({ x: undefined, height: undefined })).toEqual(["height", "x"]);
    // Cross-field and per-field problems are reported together.
    expect(await failing({ x: 8, width: 5, height: 0, title: "" })).toEqual(["height", "title", "width"]);

    for (const ok of [{ x: 6, width: 6 }, { x: 11, width: 1 }, { x: 0, width: 12, height: 48 }, { y: 500, height: 1 }]) {
      const res = await api("POST", `/api/dashboards/${dashboard.id}/widgets`, { token: admin.token, body: widgetBody(ok) });
      expect(res.status, JSON.stringify(ok)).toBe(201);
    }
  });

  it("validates type, title, config and unknown fields, naming each", async () => {
    const admin = await registerOrg();
    const dashboard = await newDashboard(admin);
    const res = await api("POST", `/api/dashboards/${dashboard.id}/widgets`, {
      token: admin.token,
      body: widgetBody({ type: "gauge", title: "   ", config: [1], data: { x: 1 }, dashboardId: dashboard.id }),
    });
    expect(fieldsOf(expectError(res, 400, "validation_error"))).toEqual(["config", "dashboardId", "data", "title", "type"]);
    const bigConfig = await api("POST", `/api/dashboards/${dashboard.id}/widgets`, {
      token: admin.token,
      body: widgetBody({ config: { blob: "x".repeat(64 * 1024) }, title: "t".repeat(201) }),
    });
    expect(fieldsOf(expectError(bigConfig, 400, "validation_error"))).toEqual(["config", "title"]);
  });

  it("requires dataSourceId to be a data source of the same organization", async () => {
    const admin = await registerOrg();
    const other = await registerOrg();
    const dashboard = await newDashboard(admin);
    const foreign = await newDataSource(other);
    for (const dataSourceId of [foreign.id, NIL_UUID, "not-a-uuid", 42]) {
      const res = await api("POST", `/api/dashboards/${dashboard.id}/widgets`, {
        token: admin.token,
        body: widgetBody({ dataSourceId }),
      });
      expect(fieldsOf(expectError(res, 400, "validation_error"))).toEqual(["dataSourceId"]);
    }
    const count = await env.DB.prepare("SELECT count(*) AS n FROM widgets WHERE dashboard_id = ?").bind(dashboard.id).first<{ n: number }>();
    expect(count?.n).toBe(0);
  });

  it("answers 404 for an unknown or malformed dashboard id, 403 for viewers and 401 without a token", async () => {
    const admin = await registerOrg();
    const viewer = await addMember(admin, "viewer");
    const dashboard = await newDashboard(admin);
    expectError(await api("POST", `/api/dashboards/${NIL_UUID}/widgets`, { token: admin.token, body: widgetBody() }), 404, "not_found");
    expectError(await api("POST", "/api/dashboards/nope/widgets", { token: admin.token, body: widgetBody() }), 404, "not_found");
    expectError(await api("POST", `/api/dashboards/${dashboard.id}/widgets`, { token: viewer.token, body: widgetBody() }), 403, "forbidden");
    expectError(await api("POST", `/api/dashboards/${dashboard.id}/widgets`, { body: widgetBody() }), 401, "unauthorized");
    expectError(await api("GET", `/api/dashboards/${dashboard.id}/widgets`), 401, "unauthorized");
  });
});

describe("GET /api/dashboards/:dashboardId/widgets", () => {
  it("lists a dashboard's widgets in grid order, paginated, for viewers too", async () => {
    const admin = await registerOrg();
    const viewer = await addMember(admin, "viewer");
    const dashboard = await newDashboard(admin);
    const other = await newDashboard(admin, { name: "Other" });
    await newWidget(admin, other.id);
    const c = await newWidget(admin, dashboard.id, { title: "C", x: 0, y: 8 });
    const b = await newWidget(admin, dashboard.id, { title: "B", x: 6, y: 0 });
    const a = await newWidget(admin, dashboard.id, { title: "A", x: 0, y: 0 });

    const res = await api("GET", `/api/dashboards/${dashboard.id}/widgets`, { token: viewer.token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: [a, b, c], meta: { total: 3, page: 1, limit: 20, pages: 1 } });

    const page2 = await api("GET", `/api/dashboards/${dashboard.id}/widgets?limit=2&page=2`, { token: viewer.token });
    expect(page2.body).toEqual({ data: [c], meta: { total: 3, page: 2, limit: 2, pages: 2 } });
    const bad = await api("GET", `/api/dashboards/${dashboard.id}/widgets?limit=500`, { token: viewer.token });
    expect(fieldsOf(expectError(bad, 400, "validation_error"))).toEqual(["limit"]);
    expectError(await api("GET", `/api/dashboards/${NIL_UUID}/widgets`, { token: viewer.token }), 404, "not_found");
  });
});

describe("GET, PATCH, DELETE /api/dashboards/:dashboardId/widgets/:id", () => {
  it("reads one widget", async () => {
    const admin = await registerOrg();
    const viewer = await addMember(admin, "viewer");
    const dashboard = await newDashboard(admin);
    const widget = await newWidget(admin, dashboard.id, { type: "table", title: "Orders" });
    const res = await api("GET", `/api/dashboards/${dashboard.id}/widgets/${widget.id}`, { token: viewer.token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(widget);
    expect(Object.keys(res.body)).toEqual([
      "id", "type", "title", "config", "data", "dashboardId", "dataSourceId", "x", "y", "width", "height", "createdAt", "updatedAt",
    ]);
  });

  it("patches only the given fields", async () => {
    const admin = await registerOrg();
    const editor = await addMember(admin, "editor");
    const dashboard = await newDashboard(admin);
    const source = await newDataSource(admin);
    const widget = await newWidget(admin, dashboard.id, { config: { a: 1 } });
    const url = `/api/dashboards/${dashboard.id}/widgets/${widget.id}`;

    const res = await api("PATCH", url, { token: editor.token, body: { title: " Renamed ", y: 3, config: { b: 2 }, dataSourceId: source.id } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      ...widget,
      title: "Renamed",
      y: 3,
      config: { b: 2 },
      dataSourceId: source.id,
      updatedAt: expect.stringMatching(ISO_MS),
    });
    expect(res.body.updatedAt >= widget.updatedAt).toBe(true);
    const row = await env.DB.prepare("SELECT updated_by FROM widgets WHERE id = ?").bind(widget.id).first<{ updated_by: string }>();
    expect(row?.updated_by).toBe(editor.id);

    const detached = await api("PATCH", url, { token: editor.token, body: { dataSourceId: null, type: "pie_chart" } });
    expect(detached.body).toMatchObject({ dataSourceId: null, type: "pie_chart", title: "Renamed", config: { b: 2 } });
    expect((await api("GET", url, { token: editor.token })).body).toEqual(detached.body);
  });

  it("checks x + width against the stored values", async () => {
    const admin = await registerOrg();
    const dashboard = await newDashboard(admin);
    const widget = await newWidget(admin, dashboard.id, { x: 6, width: 6 });
    const url = `/api/dashboards/${dashboard.id}/widgets/${widget.id}`;
    expect(fieldsOf(expectError(await api("PATCH", url, { token: admin.token, body: { width: 7 } }), 400, "validation_error"))).toEqual(["width"]);
    expect(fieldsOf(expectError(await api("PATCH", url, { token: admin.token, body: { x: 7 } }), 400, "validation_error"))).toEqual(["x"]);
    expect(fieldsOf(expectError(await api("PATCH", url, { token: admin.token, body: { x: 4, width: 9 } }), 400, "validation_error"))).toEqual(["width"]);
    const moved = await api("PATCH", url, { token: admin.token, body: { x: 0, width: 12 } });
    expect(moved.body).toMatchObject({ x: 0, width: 12 });
    const narrowed = await api("PATCH", url, { token: admin.token, body: { x: 11, width: 1 } });
    expect(narrowed.body).toMatchObject({ x: 11, width: 1 });
  });

  it("rejects empty patches, unknown fields, bad values and a foreign data source", async () => {
    const admin = await registerOrg();
    const other = await registerOrg();
    const dashboard = await newDashboard(admin);
    const widget = await newWidget(admin, dashboard.id);
    const foreign = await newDataSource(other);
    const url = `/api/dashboards/${dashboard.id}/widgets/${widget.id}`;
    expectError(await api("PATCH", url, { token: admin.token, body: {} }), 400, "validation_error");
    const res = await api("PATCH", url, { token: admin.token, body: { dashboardId: NIL_UUID, height: 100, type: "x", data: {} } });
    expect(fieldsOf(expectError(res, 400, "validation_error"))).toEqual(["dashboardId", "data", "height", "type"]);
    const src = await api("PATCH", url, { token: admin.token, body: { dataSourceId: foreign.id } });
    expect(fieldsOf(expectError(src, 400, "validation_error"))).toEqual(["dataSourceId"]);
    expect((await api("GET", url, { token: admin.token })).body).toEqual(widget);
  });

  it("deletes a widget with 204", async () => {
    const admin = await registerOrg();
    const editor = await addMember(admin, "editor");
    const dashboard = await newDashboard(admin);
    const widget = await newWidget(admin, dashboard.id);
    const url = `/api/dashboards/${dashboard.id}/widgets/${widget.id}`;
    const res = await api("DELETE", url, { token: editor.token });
    expect(res.status).toBe(204);
    expect(res.body).toBe("");
    expectError(await api("GET", url, { token: editor.token }), 404, "not_found");
    expectError(await api("DELETE", url, { token: editor.token }), 404, "not_found");
    expect((await api("GET", `/api/dashboards/${dashboard.id}`, { token: editor.token })).body.widgets).toEqual([]);
  });

  it("is 403 for viewers writing and 401 without a token", async () => {
    const admin = await registerOrg();
    const viewer = await addMember(admin, "viewer");
    const dashboard = await newDashboard(admin);
    const widget = await newWidget(admin, dashboard.id);
    const url = `/api/dashboards/${dashboard.id}/widgets/${widget.id}`;
    expectError(await api("PATCH", url, { token: viewer.token, body: { title: "x" } }), 403, "forbidden");
    expectError(await api("DELETE", url, { token: viewer.token }), 403, "forbidden");
    expectError(await api("GET", url), 401, "unauthorized");
    expectError(await api("PATCH", url, { body: { title: "x" } }), 401, "unauthorized");
    expectError(await api("DELETE", url), 401, "unauthorized");
    expect((await api("GET", url, { token: viewer.token })).body).toEqual(widget);
  });

  it("answers 404 for a widget under the wrong dashboard and for malformed ids", async () => {
    const admin = await registerOrg();
    const home = await newDashboard(admin, { name: "Home" });
    const elsewhere = await newDashboard(admin, { name: "Elsewhere" });
    const widget = await newWidget(admin, home.id);
    const wrong = `/api/dashboards/${elsewhere.id}/widgets/${widget.id}`;
    expectError(await api("GET", wrong, { token: admin.token }), 404, "not_found");
    expectError(await api("PATCH", wrong, { token: admin.token, body: { title: "moved?" } }), 404, "not_found");
    expectError(await api("DELETE", wrong, { token: admin.token }), 404, "not_found");
    expectError(await api("GET", `/api/dashboards/${NIL_UUID}/widgets/${widget.id}`, { token: admin.token }), 404, "not_found");
    expectError(await api("GET", `/api/dashboards/${home.id}/widgets/nope`, { token: admin.token }), 404, "not_found");
    expectError(await api("GET", `/api/dashboards/nope/widgets/${widget.id}`, { token: admin.token }), 404, "not_found");
    expectError(await api("GET", `/api/dashboards/${home.id}/widgets/${NIL_UUID}`, { token: admin.token }), 404, "not_found");
    const still = await api("GET", `/api/dashboards/${home.id}/widgets/${widget.id}`, { token: admin.token });
    expect(still.body).toEqual(widget);
  });

  it("answers 413, malformed JSON and wrong content type like every route", async () => {
    const admin = await registerOrg();
    const dashboard = await newDashboard(admin);
    const widget = await newWidget(admin, dashboard.id);
    const base = `/api/dashboards/${dashboard.id}/widgets`;
    const json = { "content-type": "application/json" };
    const huge = JSON.stringify(widgetBody({ config: { blob: "x".repeat(1_100_000) } }));
    expectError(await api("POST", base, { token: admin.token, rawBody: huge, headers: json }), 413, "payload_too_large");
    expectError(await api("POST", base, { token: admin.token, rawBody: "{", headers: json }), 400, "validation_error");
    expectError(await api("PATCH", `${base}/${widget.id}`, { token: admin.token, rawBody: "[", headers: json }), 400, "validation_error");
    expectError(
      await api("POST", base, { token: admin.token, rawBody: JSON.stringify(widgetBody()), headers: { "content-type": "text/plain" } }),
      400,
      "validation_error",
    );
  });
});
