import { and, eq, sql, type SQL } from "drizzle-orm";
import { dashboards, widgets, type Dashboard, type Widget } from "../db/schema";
import type { Actor, Database } from "../env";
import { notFound } from "../lib/errors";
import { offsetOf, pageOf, selectPage } from "../lib/pagination";
import { containsText, orderWithTieBreak } from "../lib/sql";
import { nowIso } from "../lib/time";
import type { CreateDashboardInput, ListDashboardsQuery, UpdateDashboardInput } from "../schemas/dashboards";
import { changedARow, domainEvent, type DomainEvent, type EventPublisher } from "./events";
import { WIDGET_ORDER, toPublicWidgetResponse, widgetEvent, type WidgetResponse } from "./widgets";

/** The one place a dashboard becomes a response (POST and PATCH answer with this). */
export function toDashboardResponse(dashboard: Dashboard) {
  return {
    id: dashboard.id,
    name: dashboard.name,
    description: dashboard.description,
    isPublic: dashboard.isPublic,
    layout: dashboard.layout,
    createdAt: dashboard.createdAt,
    updatedAt: dashboard.updatedAt,
  };
}
export type DashboardResponse = ReturnType<typeof toDashboardResponse>;

/** List items: the spec's list shape, without the layout. */
export function toDashboardListItem(dashboard: Dashboard) {
  const { layout: _layout, ...item } = toDashboardResponse(dashboard);
  return item;
}

/** GET /:id: the dashboard with its widgets in grid order. */
export function toDashboardDetail(dashboard: Dashboard, widgetResponses: WidgetResponse[]) {
  return { ...toDashboardResponse(dashboard), widgets: widgetResponses };
}

/** The tokenless view of a public dashboard: no user ids, emails or links to other resources. */
export function toPublicDashboardResponse(dashboard: Dashboard, widgetResponses: WidgetResponse[]) {
  return { ...toDashboardResponse(dashboard), widgets: widgetResponses.map(toPublicWidgetResponse) };
}

const inOrg = (actor: Actor, id: string) => and(eq(dashboards.id, id), eq(dashboards.organizationId, actor.organizationId));

export async function getDashboard(db: Database, actor: Actor, id: string): Promise<Dashboard> {
  const dashboard = await db.select().from(dashboards).where(inOrg(actor, id)).get();
  if (!dashboard) throw notFound("Dashboard");
  return dashboard;
}

export interface DashboardWithWidgets {
  dashboard: Dashboard;
  widgets: Widget[];
}

export async function getDashboardWithWidgets(db: Database, actor: Actor, id: string): Promise<DashboardWithWidgets> {
  const [[dashboard], rows] = await db.batch([
    db.select().from(dashboards).where(inOrg(actor, id)),
    db
      .select()
      .from(widgets)
      .where(and(eq(widgets.dashboardId, id), eq(widgets.organizationId, actor.organizationId)))
      .orderBy(...WIDGET_ORDER),
  ]);
  if (!dashboard) throw notFound("Dashboard");
  return { dashboard, widgets: rows };
}

/** A public dashboard for anyone; a private or unknown id is the same 404. */
export async function getPublicDashboard(db: Database, id: string): Promise<DashboardWithWidgets> {
  const [[dashboard], rows] = await db.batch([
    db
      .select()
      .from(dashboards)
      .where(and(eq(dashboards.id, id), eq(dashboards.isPublic, true))),
    // Widgets join their dashboard's visibility, so a private dashboard's widgets are never read.
    db
      .select({ widget: widgets })
      .from(widgets)
      .innerJoin(dashboards, and(eq(dashboards.id, widgets.dashboardId), eq(dashboards.organizationId, widgets.organizationId)))
      .where(and(eq(widgets.dashboardId, id), eq(dashboards.isPublic, true)))
      .orderBy(...WIDGET_ORDER),
  ]);
  if (!dashboard) throw notFound("Dashboard");
  return { dashboard, widgets: rows.map((row) => row.widget) };
}

const DASHBOARD_SORT = {
  // Case-insensitive, so "apple" and "Banana" sort as a person expects.
  name: sql`${dashboards.name} COLLATE NOCASE`,
  createdAt: dashboards.createdAt,
  updatedAt: dashboards.updatedAt,
} as const;

export async function listDashboards(db: Database, actor: Actor, query: ListDashboardsQuery) {
  const filters: (SQL | undefined)[] = [
    eq(dashboards.organizationId, actor.organizationId),
    query.isPublic !== undefined ? eq(dashboards.isPublic, query.isPublic) : undefined,
    query.q ? containsText(dashboards.name, query.q) : undefined,
  ];
  const where = and(...filters);
  const order = orderWithTieBreak(DASHBOARD_SORT[query.sort.field], dashboards.id, query.sort.direction);
  const { rows, total } = await selectPage(db, dashboards, where, order, { limit: query.limit, offset: offsetOf(query.page, query.limit) });
  return pageOf(rows.map(toDashboardListItem), total, query.page, query.limit);
}

function dashboardEvent(
  event: "dashboard.created" | "dashboard.updated" | "dashboard.deleted",
  actor: Actor,
  dashboard: Dashboard,
  timestamp: string,
  extra: Record<string, unknown>,
): DomainEvent {
  return domainEvent(event, actor, { id: dashboard.id, name: dashboard.name, ...extra }, timestamp);
}

export async function createDashboard(
  db: Database,
  actor: Actor,
  input: CreateDashboardInput,
  events: EventPublisher,
): Promise<Dashboard> {
  const now = nowIso();
  const dashboard: Dashboard = {
    id: crypto.randomUUID(),
    organizationId: actor.organizationId,
    ...input,
    createdBy: actor.userId,
    updatedBy: actor.userId,
    createdAt: now,
    updatedAt: now,
  };
  const event = dashboardEvent("dashboard.created", actor, dashboard, now, {
    description: dashboard.description,
    isPublic: dashboard.isPublic,
    createdBy: actor.userId,
  });
  await events.commit(db, [db.insert(dashboards).values(dashboard)], [event]);
  return dashboard;
}

export async function updateDashboard(
  db: Database,
  actor: Actor,
  id: string,
  input: UpdateDashboardInput,
  events: EventPublisher,
): Promise<Dashboard> {
  const existing = await getDashboard(db, actor, id);
  const now = nowIso();
  const changes = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as Partial<Dashboard>;
  const next: Dashboard = { ...existing, ...changes, updatedBy: actor.userId, updatedAt: now };
  const event = dashboardEvent("dashboard.updated", actor, next, now, {
    isPublic: next.isPublic,
    changedFields: Object.keys(changes),
    updatedBy: actor.userId,
  });
  event.onlyIf = changedARow;
  const [rows] = (await events.commit(
    db,
    [db.update(dashboards).set({ ...changes, updatedBy: actor.userId, updatedAt: now }).where(inOrg(actor, id)).returning()],
    [event],
  )) as [Dashboard[]];
  const updated = rows[0];
  if (!updated) throw notFound("Dashboard");
  return updated;
}

/** Deletes a dashboard; its widgets go with it (foreign-key cascade), each with its own event. */
export async function deleteDashboard(db: Database, actor: Actor, id: string, events: EventPublisher): Promise<void> {
  const { dashboard, widgets: doomed } = await getDashboardWithWidgets(db, actor, id);
  const now = nowIso();
  // One condition for all of them (it spans several outbox statements, so not changes()):
  // published only if the dashboard is really gone after this batch.
  const gone = sql`NOT EXISTS (SELECT 1 FROM ${dashboards} WHERE ${dashboards.id} = ${id})`;
  const allEvents = [
    ...doomed.map((widget) => widgetEvent("widget.deleted", actor, widget, now, { deletedBy: actor.userId })),
    dashboardEvent("dashboard.deleted", actor, dashboard, now, { deletedBy: actor.userId }),
  ].map((event) => ({ ...event, onlyIf: gone }));
  await events.commit(db, [db.delete(dashboards).where(inOrg(actor, id))], allEvents);
}
