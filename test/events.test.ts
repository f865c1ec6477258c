import { env } from "cloudflare:test";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, it } from "vitest";
import * as schema from "../src/db/schema";
import type { Actor } from "../src/env";
import { createDashboard, deleteDashboard, updateDashboard } from "../src/services/dashboards";
import { noEvents, type DomainEvent, type EventPublisher, type Statement } from "../src/services/events";
import { createWidget, deleteWidget, updateWidget } from "../src/services/widgets";
import { ISO_MS, registerOrg, type TestUser } from "./helpers";

const db = drizzle(env.DB, { schema });

/** Commits like the real thing and remembers every commit. */
function recordingPublisher() {
  const commits: { statements: Statement[]; events: DomainEvent[] }[] = [];
  const publisher: EventPublisher = {
    async commit(database, statements, events, before) {
      // The payloads are what receivers see; onlyIf is the outbox's condition, tested elsewhere.
      commits.push({ statements, events: events.map(({ onlyIf: _onlyIf, ...event }) => event) });
      return noEvents.commit(database, statements, events, before);
    },
  };
  return { publisher, commits, events: () => commits.flatMap((c) => c.events) };
}

async function actorOf(user: TestUser): Promise<Actor> {
  const row = await env.DB.prepare("SELECT organization_id AS org FROM users WHERE id = ?").bind(user.id).first<{ org: string }>();
  return { userId: user.id, organizationId: row!.org, role: "admin" };
}

const widgetInput = (overrides: Partial<Parameters<typeof createWidget>[3]> = {}) => ({
  type: "line_chart" as const,
  title: "Sales",
  config: {},
  dataSourceId: null,
  x: 0,
  y: 0,
  width: 6,
  height: 4,
  ...overrides,
});

describe("EventPublisher", () => {
  it("receives exactly the expected events for each dashboard and widget change", async () => {
    const actor = await actorOf(await registerOrg());
    const rec = recordingPublisher();
    const org = actor.organizationId;

    const dashboard = await createDashboard(db, actor, { name: "Ops", description: null, isPublic: false, layout: {} }, rec.publisher);
    expect(rec.commits).toHaveLength(1);
    expect(rec.commits[0]!.statements).toHaveLength(1);
    expect(rec.events()).toEqual([
      {
        event: "dashboard.created",
        organizationId: org,
        data: { id: dashboard.id, name: "Ops", description: null, isPublic: false, createdBy: actor.userId },
        timestamp: dashboard.createdAt,
      },
    ]);
    expect(dashboard.createdAt).toMatch(ISO_MS);

    const updated = await updateDashboard(db, actor, dashboard.id, { name: "Ops v2", isPublic: true }, rec.publisher);
    expect(rec.events()[1]).toEqual({
      event: "dashboard.updated",
      organizationId: org,
      data: { id: dashboard.id, name: "Ops v2", isPublic: true, changedFields: ["name", "isPublic"], updatedBy: actor.userId },
      timestamp: updated.updatedAt,
    });

    const top = await createWidget(db, actor, dashboard.id, widgetInput({ title: "Top" }), rec.publisher);
    const bottom = await createWidget(db, actor, dashboard.id, widgetInput({ title: "Bottom", y: 4 }), rec.publisher);
    expect(rec.events()[2]).toEqual({
      event: "widget.created",
      organizationId: org,
      data: {
        id: top.id,
        title: "Top",
        type: "line_chart",
        dashboardId: dashboard.id,
        dataSourceId: null,
        x: 0,
        y: 0,
        width: 6,
        height: 4,
        createdBy: actor.userId,
      },
      timestamp: top.createdAt,
    });

    const moved = await updateWidget(db, actor, dashboard.id, bottom.id, { title: "Bottom!", width: 12 }, rec.publisher);
    expect(moved).toMatchObject({ title: "Bottom!", width: 12, updatedBy: actor.userId });
    expect(rec.events()[4]).toEqual({
      event: "widget.updated",
      organizationId: org,
      data: { id: bottom.id, title: "Bottom!", type: "line_chart", dashboardId: dashboard.id, changedFields: ["title", "width"], updatedBy: actor.userId },
      timestamp: moved.updatedAt,
    });

    const third = await createWidget(db, actor, dashboard.id, widgetInput({ title: "Third", y: 9 }), rec.publisher);
    await deleteWidget(db, actor, dashboard.id, top.id, rec.publisher);
    expect(rec.events()[6]).toEqual({
      event: "widget.deleted",
      organizationId: org,
      data: { id: top.id, title: "Top", type: "line_chart", dashboardId: dashboard.id, deletedBy: actor.userId },
      timestamp: expect.stringMatching(ISO_MS),
    });

    // Deleting the dashboard: one commit, each remaining widget's deletion first, then the dashboard's.
    const before = rec.commits.length;
    await deleteDashboard(db, actor, dashboard.id, rec.publisher);
    expect(rec.commits).toHaveLength(before + 1);
    const last = rec.commits.at(-1)!.events;
    expect(last.map((e) => [e.event, e.data.id])).toEqual([
      ["widget.deleted", bottom.id],
      ["widget.deleted", third.id],
      ["dashboard.deleted", dashboard.id],
    ]);
    expect(last[2]).toEqual({
      event: "dashboard.deleted",
      organizationId: org,
      data: { id: dashboard.id, name: "Ops v2", deletedBy: actor.userId },
      timestamp: expect.stringMatching(ISO_MS),
    });
    expect(new Set(last.map((e) => e.timestamp)).size).toBe(1);

    expect(rec.events().map((e) => e.event)).toEqual([
      "dashboard.created",
      "dashboard.updated",
      "widget.created",
      "widget.created",
      "widget.updated",
      "widget.created",
      "widget.deleted",
      "widget.deleted",
      "widget.deleted",
      "dashboard.deleted",
    ]);
    const left = await env.DB.prepare("SELECT count(*) AS n FROM widgets WHERE dashboard_id = ?").bind(dashboard.id).first<{ n: number }>();
    expect(left?.n).toBe(0);
  });

  it("is not called for rejected changes", async () => {
    const actor = await actorOf(await registerOrg());
    const other = await actorOf(await registerOrg());
    const rec = recordingPublisher();
    const dashboard = await createDashboard(db, actor, { name: "D", description: null, isPublic: false, layout: {} }, rec.publisher);
    const widget = await createWidget(db, actor, dashboard.id, widgetInput({ x: 6 }), rec.publisher);
    const commits = rec.commits.length;

    await expect(updateWidget(db, actor, dashboard.id, widget.id, { width: 7 }, rec.publisher)).rejects.toMatchObject({ code: "validation_error" });
    await expect(updateDashboard(db, other, dashboard.id, { name: "x" }, rec.publisher)).rejects.toMatchObject({ code: "not_found" });
    await expect(deleteDashboard(db, other, dashboard.id, rec.publisher)).rejects.toMatchObject({ code: "not_found" });
    await expect(deleteWidget(db, other, dashboard.id, widget.id, rec.publisher)).rejects.toMatchObject({ code: "not_found" });
    await expect(
      createWidget(db, actor, dashboard.id, widgetInput({ dataSourceId: crypto.randomUUID() }), rec.publisher),
    ).rejects.toMatchObject({ code: "validation_error" });
    expect(rec.commits).toHaveLength(commits);
  });

  it("owns the write: when the publisher fails, nothing is written", async () => {
    const actor = await actorOf(await registerOrg());
    const failing: EventPublisher = {
      async commit() {
        throw new Error("publisher down");
      },
    };
    await expect(createDashboard(db, actor, { name: "Ghost", description: null, isPublic: false, layout: {} }, failing)).rejects.toThrow(
      "publisher down",
    );
    const rows = await env.DB.prepare("SELECT count(*) AS n FROM dashboards WHERE organization_id = ?").bind(actor.organizationId).first<{ n: number }>();
    expect(rows?.n).toBe(0);
  });
});
