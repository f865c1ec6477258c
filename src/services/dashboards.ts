import { and, eq, inArray, sql, type SQL } from "drizzle-orm";
import { prepared } from "../db/prepared";
import { dashboards, organizations, widgets, type Dashboard, type Widget } from "../db/schema";
import type { Actor, Database } from "../env";
import { ApiError, conflict, notFound } from "../lib/errors";
import { offsetOf, pageOf, selectPage } from "../lib/pagination";
import { containsText, orderWithTieBreak } from "../lib/sql";
import { nowIso } from "../lib/time";
import type {
  CreateDashboardInput,
  DashboardDetail,
  DashboardListItem,
  DashboardResponse,
  ListDashboardsQuery,
  PublicDashboardResponse,
  UpdateDashboardInput,
} from "../schemas/dashboards";
import type { WidgetResponse } from "../schemas/widgets";
import type { EventData } from "../schemas/webhooks";
import { changedARow, domainEvent, type DomainEvent, type EventPublisher } from "./events";
import { WIDGET_ORDER, toPublicWidgetResponse, widgetEvent } from "./widgets";

/** The one place a dashboard becomes a response (POST and PATCH answer with this). */
export function toDashboardResponse(dashboard: Dashboard): DashboardResponse {
  return {
    id: dashboard.id,
    name: dashboard.name,
    description: dashboard.description,
    isPublic: dashboard.isPublic,
    layout: dashboard.layout,
    version: dashboard.version,
    createdAt: dashboard.createdAt,
    updatedAt: dashboard.updatedAt,
  };
}

/** List items: the spec's list shape, without the layout. */
export function toDashboardListItem(dashboard: Dashboard): DashboardListItem {
  const { layout: _layout, ...item } = toDashboardResponse(dashboard);
  return item;
}

/** GET /:id: the dashboard with its widgets in grid order. */
export function toDashboardDetail(dashboard: Dashboard, widgetResponses: WidgetResponse[]): DashboardDetail {
  return { ...toDashboardResponse(dashboard), widgets: widgetResponses };
}

/** The tokenless view of a public dashboard: no user ids, emails or links to other resources. */
export function toPublicDashboardResponse(dashboard: Dashboard, widgetResponses: WidgetResponse[]): PublicDashboardResponse {
  return { ...toDashboardResponse(dashboard), widgets: widgetResponses.map(toPublicWidgetResponse) };
}

const inOrg = (actor: Actor, id: string) => and(eq(dashboards.id, id), eq(dashboards.organizationId, actor.organizationId));

// The reads every dashboard view makes, built once (src/db/prepared.ts); values bound per call.
const dashboardInOrg = prepared((db) =>
  db
    .select()
    .from(dashboards)
    .where(and(eq(dashboards.id, sql.placeholder("id")), eq(dashboards.organizationId, sql.placeholder("org")))),
);
const widgetsOfDashboard = prepared((db) =>
  db
    .select()
    .from(widgets)
    .where(and(eq(widgets.dashboardId, sql.placeholder("id")), eq(widgets.organizationId, sql.placeholder("org"))))
    .orderBy(...WIDGET_ORDER),
);

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
  const values = { id, org: actor.organizationId };
  const [[dashboard], rows] = await db.batch([dashboardInOrg(db, "one", values), widgetsOfDashboard(db, "all", values)]);
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

type SortField = ListDashboardsQuery["sort"]["field"];
type Direction = ListDashboardsQuery["sort"]["direction"];
/** Which list query: its order and which filters it has (their values are bound per call). */
type ListShape = `${SortField} ${Direction}${"" | " public"}${"" | " search"}`;

/** The list's filter, with placeholders (`org`, `isPublic`, `search`) for a prepared shape or values for a one-off query. */
function listWhere(org: unknown, isPublic: unknown, search: unknown) {
  return and(
    eq(dashboards.organizationId, org as string),
    isPublic !== undefined ? eq(dashboards.isPublic, isPublic as boolean) : undefined,
    search !== undefined ? containsText(dashboards.name, search as string) : undefined,
  );
}

const listPage = prepared((db, shape: ListShape) => {
  const [field, direction] = shape.split(" ") as [SortField, Direction];
  const where = listWhere(
    sql.placeholder("org"),
    shape.includes(" public") ? sql.placeholder("isPublic") : undefined,
    shape.includes(" search") ? sql.placeholder("search") : undefined,
  );
  return db
    .select()
    .from(dashboards)
    .where(where)
    .orderBy(...orderWithTieBreak(DASHBOARD_SORT[field], dashboards.id, direction))
    .limit(sql.placeholder("limit"))
    .offset(sql.placeholder("offset"));
});

const storedCount = prepared((db) =>
  db.select({ total: organizations.dashboardCount }).from(organizations).where(eq(organizations.id, sql.placeholder("org"))),
);

export async function listDashboards(db: Database, actor: Actor, query: ListDashboardsQuery) {
  const search = query.q;
  const shape: ListShape = `${query.sort.field} ${query.sort.direction}${query.isPublic !== undefined ? " public" : ""}${search !== undefined ? " search" : ""}`;
  const window = { limit: query.limit, offset: offsetOf(query.page, query.limit) };
  // Placeholder values skip drizzle's column mapping: the boolean goes in as SQLite stores it.
  const page = listPage(db, shape, { org: actor.organizationId, isPublic: query.isPublic ? 1 : 0, search, ...window });
  // Unfiltered, the total is the organization's stored count: one row read, however many
  // dashboards. A filtered total counts its rows (from an index: see the schema).
  const unfiltered = query.isPublic === undefined && search === undefined;
  const { rows, total } = await selectPage(
    db,
    dashboards,
    listWhere(actor.organizationId, query.isPublic, search),
    [],
    window,
    { page, ...(unfiltered && { total: storedCount(db, "org", { org: actor.organizationId }) }) },
  );
  return pageOf(rows.map(toDashboardListItem), total, query.page, query.limit);
}

// organizations.dashboard_count, kept by the batch that creates or deletes a dashboard.
const countCreated = (db: Database, actor: Actor) =>
  db
    .update(organizations)
    .set({ dashboardCount: sql`${organizations.dashboardCount} + 1` })
    .where(eq(organizations.id, actor.organizationId));

/**
 * Counts a dashboard out in the batch that deletes it, when the DELETE's condition `applies` holds:
 * it runs just before that DELETE, in the same transaction, so both see the same rows, and a
 * delete that finds nothing (a concurrent delete got there first) subtracts nothing.
 */
const countDeleting = (db: Database, actor: Actor, applies: SQL | undefined) =>
  db
    .update(organizations)
    .set({ dashboardCount: sql`${organizations.dashboardCount} - 1` })
    .where(and(eq(organizations.id, actor.organizationId), sql`EXISTS (SELECT 1 FROM ${dashboards} WHERE ${applies})`));

type DashboardEvent = "dashboard.created" | "dashboard.updated" | "dashboard.deleted";

/** A dashboard event; `extra` is the rest of that event's documented `data` (src/schemas/webhooks.ts). */
function dashboardEvent<E extends DashboardEvent>(
  event: E,
  actor: Actor,
  dashboard: Dashboard,
  timestamp: string,
  extra: Omit<EventData<E>, "id" | "name">,
): DomainEvent {
  return domainEvent(event, actor, { id: dashboard.id, name: dashboard.name, ...extra } as EventData<E>, timestamp);
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
    version: 1,
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
  await events.commit(db, [db.insert(dashboards).values(dashboard)], [event], [countCreated(db, actor)]);
  return dashboard;
}

/**
 * `If-Match` on a write: the versions the client says it saw (`"*"` is any). The check runs
 * inside the write's own WHERE, so of two editors who read version 3 only one PATCH applies.
 */
export type VersionPrecondition = { any: true } | { versions: number[] } | undefined;

const versionHolds = (precondition: VersionPrecondition) =>
  precondition === undefined || "any" in precondition
    ? undefined
    : precondition.versions.length > 0
      ? inArray(dashboards.version, precondition.versions)
      : sql`0`;

const versionAccepted = (precondition: VersionPrecondition, version: number) =>
  precondition === undefined || "any" in precondition || precondition.versions.includes(version);

const preconditionFailed = () =>
  new ApiError("precondition_failed", "The dashboard has changed since you read it; fetch it again and retry", [
    { field: "If-Match", message: "Does not match the dashboard's current version" },
  ]);

/** After a write that matched no row: gone (404), or there but at another version (412). */
async function missedWrite(db: Database, actor: Actor, id: string): Promise<ApiError> {
  const still = await db.select({ id: dashboards.id }).from(dashboards).where(inOrg(actor, id)).get();
  return still ? preconditionFailed() : notFound("Dashboard");
}

export async function updateDashboard(
  db: Database,
  actor: Actor,
  id: string,
  input: UpdateDashboardInput,
  events: EventPublisher,
  precondition?: VersionPrecondition,
): Promise<Dashboard> {
  const existing = await getDashboard(db, actor, id);
  const now = nowIso();
  const changes = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as Partial<Dashboard>;
  const next: Dashboard = { ...existing, ...changes, updatedBy: actor.userId, updatedAt: now };
  const event = dashboardEvent("dashboard.updated", actor, next, now, {
    isPublic: next.isPublic,
    changedFields: Object.keys(changes) as (keyof UpdateDashboardInput)[],
    updatedBy: actor.userId,
  });
  event.onlyIf = changedARow;
  const [rows] = (await events.commit(
    db,
    [
      db
        .update(dashboards)
        .set({ ...changes, version: sql`${dashboards.version} + 1`, updatedBy: actor.userId, updatedAt: now })
        .where(and(inOrg(actor, id), versionHolds(precondition)))
        .returning(),
    ],
    [event],
  )) as [Dashboard[]];
  const updated = rows[0];
  if (!updated) throw await missedWrite(db, actor, id);
  return updated;
}

/** Reads before a dashboard delete that keep finding its widgets changed end in a 409. */
const DELETE_ATTEMPTS = 5;

/**
 * Deletes a dashboard; its widgets go with it (foreign-key cascade), each with its own event.
 * The events are written from the widgets read first, so the DELETE applies only while the
 * dashboard's widgets are still exactly those (same ids, same updatedAt): a widget created,
 * changed or deleted in between would otherwise go unannounced, stale or announced twice. A
 * delete that finds them changed reads again; one that finds the dashboard gone (a concurrent
 * delete won) is a 404, and publishes nothing. With `If-Match`, a version moved on is a 412.
 */
export async function deleteDashboard(
  db: Database,
  actor: Actor,
  id: string,
  events: EventPublisher,
  precondition?: VersionPrecondition,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const { dashboard, widgets: doomed } = await getDashboardWithWidgets(db, actor, id);
    // Checked on every read, and again inside the DELETE: a PATCH in between is a 412 too.
    if (!versionAccepted(precondition, dashboard.version)) throw preconditionFailed();
    const now = nowIso();
    const allEvents = [
      ...doomed.map((widget) => widgetEvent("widget.deleted", actor, widget, now, { deletedBy: actor.userId })),
      dashboardEvent("dashboard.deleted", actor, dashboard, now, { deletedBy: actor.userId }),
    ].map((event) => ({ ...event, onlyIf: changedARow }));
    const fingerprints = JSON.stringify(doomed.map((w) => `${w.id}@${w.updatedAt}`));
    const ofThisDashboard = sql`${widgets.dashboardId} = ${dashboards.id}`;
    const widgetsUnchanged = sql`(SELECT count(*) FROM ${widgets} WHERE ${ofThisDashboard}) = ${doomed.length}
      AND (SELECT count(*) FROM ${widgets} WHERE ${ofThisDashboard}
        AND ${widgets.id} || '@' || ${widgets.updatedAt} IN (SELECT value FROM json_each(${fingerprints}))) = ${doomed.length}`;
    const applies = and(inOrg(actor, id), versionHolds(precondition), widgetsUnchanged);
    const [deleted] = (await events.commit(
      db,
      [db.delete(dashboards).where(applies).returning({ id: dashboards.id })],
      allEvents,
      [countDeleting(db, actor, applies)],
    )) as [{ id: string }[]];
    if (deleted.length > 0) return;
    if (attempt === DELETE_ATTEMPTS) throw conflict("The dashboard's widgets kept changing while it was being deleted; try again");
  }
}
