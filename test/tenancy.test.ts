import { describe, expect, it } from "vitest";
import { dataSourceBody, newDashboard, newDataSource, newWidget, widgetBody } from "./crud-helpers";
import { addMember, api, expectError, registerOrg } from "./helpers";

describe("tenancy", () => {
  it("a second organization sees none of the first's dashboards, widgets or data sources", async () => {
    const first = await registerOrg();
    const second = await registerOrg();
    const secondEditor = await addMember(second, "editor");
    const dashboard = await newDashboard(first, { name: "First's", isPublic: true });
    const privateOne = await newDashboard(first, { name: "First's private" });
    const source = await newDataSource(first);
    const widget = await newWidget(first, dashboard.id, { dataSourceId: source.id });
    const ownDashboard = await newDashboard(second, { name: "Second's" });

    // Lists
    const dashboards = await api("GET", "/api/dashboards", { token: second.token });
    expect(dashboards.body).toEqual({ data: [expect.objectContaining({ id: ownDashboard.id })], meta: { total: 1, page: 1, limit: 20, pages: 1 } });
    expect((await api("GET", "/api/dashboards?isPublic=true", { token: second.token })).body.meta.total).toBe(0);
    expect((await api("GET", "/api/dashboards?q=First", { token: second.token })).body.meta.total).toBe(0);
    expect((await api("GET", "/api/data-sources", { token: second.token })).body).toEqual({
      data: [],
      meta: { total: 0, page: 1, limit: 20, pages: 0 },
    });
    expect(JSON.stringify(dashboards.body)).not.toContain(dashboard.id);

    // Dashboards by id
    for (const id of [dashboard.id, privateOne.id]) {
      for (const user of [second, secondEditor]) {
        expectError(await api("GET", `/api/dashboards/${id}`, { token: user.token }), 404, "not_found");
        expectError(await api("PATCH", `/api/dashboards/${id}`, { token: user.token, body: { name: "Hijacked" } }), 404, "not_found");
        expectError(await api("DELETE", `/api/dashboards/${id}`, { token: user.token }), 404, "not_found");
      }
    }

    // Widgets under the first's dashboard, and the first's widget under the second's dashboard
    const under = `/api/dashboards/${dashboard.id}/widgets`;
    expectError(await api("GET", under, { token: second.token }), 404, "not_found");
    expectError(await api("POST", under, { token: second.token, body: widgetBody() }), 404, "not_found");
    expectError(await api("GET", `${under}/${widget.id}`, { token: second.token }), 404, "not_found");
    expectError(await api("PATCH", `${under}/${widget.id}`, { token: second.token, body: { title: "Hijacked" } }), 404, "not_found");
    expectError(await api("DELETE", `${under}/${widget.id}`, { token: second.token }), 404, "not_found");
    const crossed = `/api/dashboards/${ownDashboard.id}/widgets/${widget.id}`;
    expectError(await api("GET", crossed, { token: second.token }), 404, "not_found");
    expectError(await api("PATCH", crossed, { token: second.token, body: { title: "Hijacked" } }), 404, "not_found");
    expectError(await api("DELETE", crossed, { token: second.token }), 404, "not_found");

    // Data sources by id
    expectError(await api("GET", `/api/data-sources/${source.id}`, { token: second.token }), 404, "not_found");
    expectError(await api("PATCH", `/api/data-sources/${source.id}`, { token: second.token, body: { name: "Hijacked" } }), 404, "not_found");
    expectError(await api("DELETE", `/api/data-sources/${source.id}`, { token: second.token }), 404, "not_found");
    const attach = await api("POST", `/api/dashboards/${ownDashboard.id}/widgets`, {
      token: second.token,
      body: widgetBody({ dataSourceId: source.id }),
    });
    expect(expectError(attach, 400, "validation_error").map((d) => d.field)).toEqual(["dataSourceId"]);

    // Nothing of the first's changed.
    const still = await api("GET", `/api/dashboards/${dashboard.id}`, { token: first.token });
    expect(still.body).toMatchObject({ name: "First's", widgets: [widget] });
    expect((await api("GET", `/api/dashboards/${privateOne.id}`, { token: first.token })).body.name).toBe("First's private");
    expect((await api("GET", `/api/data-sources/${source.id}`, { token: first.token })).body).toEqual(source);
  });

  it("keeps same-named resources apart", async () => {
    const first = await registerOrg();
    const second = await registerOrg();
    await newDashboard(first, { name: "Shared name" });
    await newDataSource(first, { name: "Warehouse" });
    await api("POST", "/api/data-sources", { token: second.token, body: dataSourceBody({ name: "Warehouse" }) });
    expect((await api("GET", "/api/dashboards?q=Shared", { token: second.token })).body.meta.total).toBe(0);
    expect((await api("GET", "/api/data-sources?q=Warehouse", { token: second.token })).body.meta.total).toBe(1);
    expect((await api("GET", "/api/data-sources?q=Warehouse", { token: first.token })).body.meta.total).toBe(1);
  });
});
