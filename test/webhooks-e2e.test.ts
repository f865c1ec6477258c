// The six spec events, caused through the real dashboard and widget routes, delivered through the
// real Queue to the Node receiver.
import { describe, expect, it } from "vitest";
import { addMember, api, ISO_MS, registerOrg, type TestUser } from "./helpers";
import { subscribe, waitForStatus } from "./webhook-helpers";


interface Event {
  event: string;
  data: Record<string, unknown>;
  timestamp: string;
}

async function changeEverything(user: TestUser) {
  const token = user.token;
  const dashboard = await api("POST", "/api/dashboards", { token, body: { name: "Sales", description: "Monthly", isPublic: false, layout: {} } });
  expect(dashboard.status, JSON.stringify(dashboard.body)).toBe(201);
  const d = dashboard.body.id as string;
  expect((await api("PATCH", `/api/dashboards/${d}`, { token, body: { name: "Sales 2026" } })).status).toBe(200);
  const widget = await api("POST", `/api/dashboards/${d}/widgets`, {
    token,
    body: { type: "line_chart", title: "Revenue", config: {}, x: 0, y: 0, width: 6, height: 4 },
  });
  expect(widget.status, JSON.stringify(widget.body)).toBe(201);
  const w = widget.body.id as string;
  expect((await api("PATCH", `/api/dashboards/${d}/widgets/${w}`, { token, body: { title: "Revenue (EUR)" } })).status).toBe(200);
  expect((await api("DELETE", `/api/dashboards/${d}/widgets/${w}`, { token })).status).toBe(204);
  const kept = await api("POST", `/api/dashboards/${d}/widgets`, {
    token,
    body: { type: "metric", title: "Orders", x: 6, y: 0, width: 6, height: 2 },
  });
  expect(kept.status).toBe(201);
  // Deleting the dashboard also deletes (and announces) its remaining widget.
  expect((await api("DELETE", `/api/dashboards/${d}`, { token })).status).toBe(204);
  return { dashboardId: d, widgetId: w, keptWidgetId: kept.body.id as string };
}

describe("webhooks end to end with the dashboard and widget routes", () => {
  it("delivers each of the six events, signed and verifiable, with the spec payloads", async () => {
    const admin = await registerOrg();
    const sub = await subscribe(admin, { events: ["*"] });
    const { dashboardId, widgetId, keptWidgetId } = await changeEverything(admin);

    const got = await sub.sink.waitFor(8);
    expect(got.every((r) => r.verifiedBy[0] === true)).toBe(true);
    expect(new Set(got.map((r) => r.headers["webhook-id"])).size).toBe(8);
    const events = got.map((r) => JSON.parse(r.body) as Event);
    for (const e of events) expect(e.timestamp).toMatch(ISO_MS);
    const find = (name: string, id: string) => events.find((e) => e.event === name && e.data.id === id);

    expect(find("dashboard.created", dashboardId)?.data).toMatchObject({ id: dashboardId, name: "Sales", createdBy: admin.id });
    expect(find("dashboard.updated", dashboardId)?.data).toMatchObject({ id: dashboardId, name: "Sales 2026", updatedBy: admin.id });
    expect(find("dashboard.deleted", dashboardId)?.data).toMatchObject({ id: dashboardId, name: "Sales 2026", deletedBy: admin.id });
    expect(find("widget.created", widgetId)?.data).toMatchObject({ id: widgetId, title: "Revenue", dashboardId, createdBy: admin.id });
    expect(find("widget.updated", widgetId)?.data).toMatchObject({ id: widgetId, title: "Revenue (EUR)", dashboardId, updatedBy: admin.id });
    expect(find("widget.deleted", widgetId)?.data).toMatchObject({ id: widgetId, title: "Revenue (EUR)", dashboardId, deletedBy: admin.id });
    expect(find("widget.created", keptWidgetId)?.data).toMatchObject({ id: keptWidgetId, title: "Orders", dashboardId });
    expect(find("widget.deleted", keptWidgetId)?.data).toMatchObject({ id: keptWidgetId, dashboardId, deletedBy: admin.id });

    // The delivery log shows all eight, succeeded.
    const log = await api("GET", `/api/webhooks/${sub.id}/deliveries?limit=100`, { token: admin.token });
    expect(log.body.meta.total).toBe(8);
    for (const d of log.body.data) await waitForStatus(admin, sub.id, d.id, "succeeded");
  });

  it("sends a subscription only the events it listens to, and another organization's changes never", async () => {
    const admin = await registerOrg();
    const widgetsOnly = await subscribe(admin, { events: ["widget.created", "widget.deleted"] });
    const stranger = await registerOrg();
    const theirs = await subscribe(stranger, { events: ["*"] });
    await changeEverything(admin);
    const got = await widgetsOnly.sink.waitFor(4);
    expect(got.map((r) => (JSON.parse(r.body) as Event).event).sort()).toEqual([
      "widget.created",
      "widget.created",
      "widget.deleted",
      "widget.deleted",
    ]);
    expect(await theirs.sink.received()).toEqual([]);
  });

  it("changes made while the receiver is down arrive by the retries once it is back", async () => {
    const admin = await registerOrg();
    // "Down" for the first three answers, then up.
    const sub = await subscribe(admin, { sink: { script: [{ status: 503 }, { status: 503 }, { status: 503 }] } });
    const created = await api("POST", "/api/dashboards", { token: admin.token, body: { name: "Ops" } });
    expect(created.status).toBe(201);
    await api("PATCH", `/api/dashboards/${created.body.id}`, { token: admin.token, body: { name: "Ops 2" } });
    const got = await sub.sink.waitFor(5, 25_000);
    const accepted = got.filter((r) => r.answered === 200).map((r) => (JSON.parse(r.body) as Event).event);
    expect(accepted.sort()).toEqual(["dashboard.created", "dashboard.updated"]);
    const log = await api("GET", `/api/webhooks/${sub.id}/deliveries`, { token: admin.token });
    for (const d of log.body.data) {
      const detail = await waitForStatus(admin, sub.id, d.id, "succeeded");
      expect(detail.attemptLog.at(-1).responseStatus).toBe(200);
      expect(detail.attemptLog.length).toBe(detail.attempts);
    }
  });

  it("a refused change (a viewer's 403) writes no delivery", async () => {
    const admin = await registerOrg();
    const sub = await subscribe(admin);
    const viewer = await addMember(admin, "viewer");
    expect((await api("POST", "/api/dashboards", { token: viewer.token, body: { name: "Nope" } })).status).toBe(403);
    // Deliveries are written in the change's own batch: none now means none ever.
    const log = await api("GET", `/api/webhooks/${sub.id}/deliveries`, { token: admin.token });
    expect(log.body.meta.total).toBe(0);
  });
});
