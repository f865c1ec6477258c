import { and, asc, count, eq } from "drizzle-orm";
import { dashboards, widgets, type Widget, type WebhookEvent } from "../db/schema";
import type { Actor, Config, Database } from "../env";
import { notFound, validationError } from "../lib/errors";
import { offsetOf, pageOf } from "../lib/pagination";
import { nowIso } from "../lib/time";
import { GRID, gridOverflowMessage, type CreateWidgetInput, type ListWidgetsQuery, type UpdateWidgetInput } from "../schemas/widgets";
import { assertUsableDataSource } from "./data-sources";
import type { DomainEvent, EventPublisher } from "./events";

export type WidgetData = Record<string, unknown>;

/** What producing a widget's `data` may use; the widget-data issue adds what it needs here. */
export interface WidgetDataContext {
  db: Database;
  config: Config;
}

/**
 * The single source of every widget response's `data`. Empty until widget data arrives in a
 * later issue; every response path (widget routes, dashboard view, public view) comes through here.
 */
export async function widgetData(_ctx: WidgetDataContext, _widget: Widget): Promise<WidgetData> {
  return {};
}

/** The one place a widget becomes a response (the spec's widget fields, in the spec's order). */
export function toWidgetResponse(widget: Widget, data: WidgetData) {
  return {
    id: widget.id,
    type: widget.type,
    title: widget.title,
    config: widget.config,
    data,
    dashboardId: widget.dashboardId,
    dataSourceId: widget.dataSourceId,
    x: widget.x,
    y: widget.y,
    width: widget.width,
    height: widget.height,
    createdAt: widget.createdAt,
    updatedAt: widget.updatedAt,
  };
}
export type WidgetResponse = ReturnType<typeof toWidgetResponse>;

/** The public (tokenless) view: what is drawn, nothing that points at other resources or people. */
export function toPublicWidgetResponse(widget: WidgetResponse) {
  const { id, type, title, config, data, x, y, width, height } = widget;
  return { id, type, title, config, data, x, y, width, height };
}

export async function presentWidget(ctx: WidgetDataContext, widget: Widget): Promise<WidgetResponse> {
  return toWidgetResponse(widget, await widgetData(ctx, widget));
}

export function presentWidgets(ctx: WidgetDataContext, rows: Widget[]): Promise<WidgetResponse[]> {
  return Promise.all(rows.map((row) => presentWidget(ctx, row)));
}

/** Grid order: top to bottom, left to right; id keeps the order total. */
export const WIDGET_ORDER = [asc(widgets.y), asc(widgets.x), asc(widgets.id)];

const dashboardInOrg = (db: Database, actor: Actor, dashboardId: string) =>
  db
    .select({ id: dashboards.id })
    .from(dashboards)
    .where(and(eq(dashboards.id, dashboardId), eq(dashboards.organizationId, actor.organizationId)));

const widgetWhere = (actor: Actor, dashboardId: string, id: string) =>
  and(eq(widgets.id, id), eq(widgets.dashboardId, dashboardId), eq(widgets.organizationId, actor.organizationId));

const dashboardNotFound = () => notFound("Dashboard");
const widgetNotFound = () => notFound("Widget");

async function assertDashboard(db: Database, actor: Actor, dashboardId: string): Promise<void> {
  if (!(await dashboardInOrg(db, actor, dashboardId).get())) throw dashboardNotFound();
}

export async function listWidgets(db: Database, actor: Actor, dashboardId: string, query: ListWidgetsQuery) {
  const where = and(eq(widgets.dashboardId, dashboardId), eq(widgets.organizationId, actor.organizationId));
  const [dashboard, rows, [totals]] = await db.batch([
    dashboardInOrg(db, actor, dashboardId),
    db
      .select()
      .from(widgets)
      .where(where)
      .orderBy(...WIDGET_ORDER)
      .limit(query.limit)
      .offset(offsetOf(query.page, query.limit)),
    db.select({ total: count() }).from(widgets).where(where),
  ]);
  if (dashboard.length === 0) throw dashboardNotFound();
  return pageOf(rows, totals?.total ?? 0, query.page, query.limit);
}

export async function getWidget(db: Database, actor: Actor, dashboardId: string, id: string): Promise<Widget> {
  const [dashboard, [widget]] = await db.batch([
    dashboardInOrg(db, actor, dashboardId),
    db.select().from(widgets).where(widgetWhere(actor, dashboardId, id)),
  ]);
  if (dashboard.length === 0) throw dashboardNotFound();
  if (!widget) throw widgetNotFound();
  return widget;
}

export function widgetEvent(
  event: Extract<WebhookEvent, `widget.${string}`>,
  actor: Actor,
  widget: Widget,
  timestamp: string,
  extra: Record<string, unknown>,
): DomainEvent {
  return {
    event,
    organizationId: actor.organizationId,
    data: { id: widget.id, title: widget.title, type: widget.type, dashboardId: widget.dashboardId, ...extra },
    timestamp,
  };
}

const isForeignKeyViolation = (err: unknown) =>
  /FOREIGN KEY constraint failed/i.test(err instanceof Error ? `${err.message} ${String(err.cause ?? "")}` : String(err));

export async function createWidget(
  db: Database,
  actor: Actor,
  dashboardId: string,
  input: CreateWidgetInput,
  events: EventPublisher,
): Promise<Widget> {
  await assertDashboard(db, actor, dashboardId);
  if (input.dataSourceId !== null) await assertUsableDataSource(db, actor, input.dataSourceId);
  const now = nowIso();
  const widget: Widget = {
    id: crypto.randomUUID(),
    organizationId: actor.organizationId,
    dashboardId,
    ...input,
    createdBy: actor.userId,
    updatedBy: actor.userId,
    createdAt: now,
    updatedAt: now,
  };
  const event = widgetEvent("widget.created", actor, widget, now, {
    dataSourceId: widget.dataSourceId,
    x: widget.x,
    y: widget.y,
    width: widget.width,
    height: widget.height,
    createdBy: actor.userId,
  });
  try {
    await events.commit(db, [db.insert(widgets).values(widget)], [event]);
  } catch (err) {
    // The dashboard was deleted between the check and the insert.
    if (isForeignKeyViolation(err)) throw dashboardNotFound();
    throw err;
  }
  return widget;
}

export async function updateWidget(
  db: Database,
  actor: Actor,
  dashboardId: string,
  id: string,
  input: UpdateWidgetInput,
  events: EventPublisher,
): Promise<Widget> {
  const existing = await getWidget(db, actor, dashboardId, id);
  // The grid rule holds for the widget as it will be, not just for the fields in the patch.
  const x = input.x ?? existing.x;
  const width = input.width ?? existing.width;
  if (x + width > GRID.columns) throw validationError(input.width !== undefined ? "width" : "x", gridOverflowMessage);
  if (input.dataSourceId) await assertUsableDataSource(db, actor, input.dataSourceId);

  const now = nowIso();
  const changes = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as Partial<Widget>;
  const next: Widget = { ...existing, ...changes, updatedBy: actor.userId, updatedAt: now };
  const event = widgetEvent("widget.updated", actor, next, now, {
    changedFields: Object.keys(changes),
    updatedBy: actor.userId,
  });
  const [rows] = (await events.commit(
    db,
    [
      db
        .update(widgets)
        .set({ ...changes, updatedBy: actor.userId, updatedAt: now })
        .where(widgetWhere(actor, dashboardId, id))
        .returning(),
    ],
    [event],
  )) as [Widget[]];
  const updated = rows[0];
  if (!updated) throw widgetNotFound();
  return updated;
}

export async function deleteWidget(
  db: Database,
  actor: Actor,
  dashboardId: string,
  id: string,
  events: EventPublisher,
): Promise<void> {
  const existing = await getWidget(db, actor, dashboardId, id);
  const event = widgetEvent("widget.deleted", actor, existing, nowIso(), { deletedBy: actor.userId });
  await events.commit(db, [db.delete(widgets).where(widgetWhere(actor, dashboardId, id))], [event]);
}
