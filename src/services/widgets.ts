import { and, asc, eq, sql } from "drizzle-orm";
import { dashboards, widgets, type Widget, type WebhookEvent } from "../db/schema";
import type { Actor, Database } from "../env";
import { notFound, validationError } from "../lib/errors";
import { offsetOf, pageOf, selectPage } from "../lib/pagination";
import { nowIso } from "../lib/time";
import type { EventData } from "../schemas/webhooks";
import {
  GRID,
  gridOverflowMessage,
  type CreateWidgetInput,
  type ListWidgetsQuery,
  type PublicWidgetResponse,
  type UpdateWidgetInput,
  type WidgetResponse,
} from "../schemas/widgets";
import { assertUsableDataSource } from "./data-sources";
import { changedARow, domainEvent, type DomainEvent, type EventPublisher } from "./events";
import { loadWidgetData, type WidgetData, type WidgetDataContext, type WidgetDataOptions } from "./widget-data";

export type { WidgetData, WidgetDataContext } from "./widget-data";

/** The single source of every widget response's `data` (src/services/widget-data.ts). */
export async function widgetData(ctx: WidgetDataContext, widget: Widget, options: WidgetDataOptions = {}): Promise<WidgetData> {
  const [data] = await loadWidgetData(ctx, [widget], options);
  return data ?? {};
}

/** The one place a widget becomes a response (the spec's widget fields, in the spec's order). */
export function toWidgetResponse(widget: Widget, data: WidgetData): WidgetResponse {
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

/**
 * The public (tokenless) view: what is drawn, nothing that points at other resources or people.
 * The config loses its `query` and `params`: the public sees the results, not the SQL behind them.
 */
export function toPublicWidgetResponse(widget: WidgetResponse): PublicWidgetResponse {
  const { id, type, title, config, data, x, y, width, height } = widget;
  const { query: _query, params: _params, ...drawing } = config;
  return { id, type, title, config: drawing, data, x, y, width, height };
}

export async function presentWidget(ctx: WidgetDataContext, widget: Widget): Promise<WidgetResponse> {
  return toWidgetResponse(widget, await widgetData(ctx, widget));
}

/** Responses for many widgets: their queries run concurrently under one deadline (loadWidgetData). */
export async function presentWidgets(ctx: WidgetDataContext, rows: Widget[], options: WidgetDataOptions = {}): Promise<WidgetResponse[]> {
  const data = await loadWidgetData(ctx, rows, options);
  return rows.map((row, i) => toWidgetResponse(row, data[i] ?? {}));
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
  const { rows, total, extra } = await selectPage(
    db,
    widgets,
    where,
    WIDGET_ORDER,
    { limit: query.limit, offset: offsetOf(query.page, query.limit) },
    { extra: [dashboardInOrg(db, actor, dashboardId)] },
  );
  if ((extra[0] as unknown[]).length === 0) throw dashboardNotFound();
  return pageOf(rows, total, query.page, query.limit);
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

/** A widget event; `extra` is the rest of that event's documented `data` (src/schemas/webhooks.ts). */
export function widgetEvent<E extends Extract<WebhookEvent, `widget.${string}`>>(
  event: E,
  actor: Actor,
  widget: Widget,
  timestamp: string,
  extra: Omit<EventData<E>, "id" | "title" | "type" | "dashboardId">,
): DomainEvent {
  const data = { id: widget.id, title: widget.title, type: widget.type, dashboardId: widget.dashboardId, ...extra } as EventData<E>;
  return domainEvent(event, actor, data, timestamp);
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
  const overflowField = input.width !== undefined ? "width" : "x";
  if (x + width > GRID.columns) throw validationError(overflowField, gridOverflowMessage);
  if (input.dataSourceId) await assertUsableDataSource(db, actor, input.dataSourceId);

  const now = nowIso();
  const changes = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as Partial<Widget>;
  const next: Widget = { ...existing, ...changes, updatedBy: actor.userId, updatedAt: now };
  const event = widgetEvent("widget.updated", actor, next, now, {
    changedFields: Object.keys(changes) as (keyof UpdateWidgetInput)[],
    updatedBy: actor.userId,
  });
  // The event counts only if the update applied (see below).
  event.onlyIf = changedARow;
  // Checked again inside the UPDATE against the row as it is then: two concurrent patches
  // ({x: 6} and {width: 12}) must not together break the grid.
  const fitsGrid = sql`${input.x ?? widgets.x} + ${input.width ?? widgets.width} <= ${GRID.columns}`;
  const [rows] = (await events.commit(
    db,
    [
      db
        .update(widgets)
        .set({ ...changes, updatedBy: actor.userId, updatedAt: now })
        .where(and(widgetWhere(actor, dashboardId, id), fitsGrid))
        .returning(),
    ],
    [event],
  )) as [Widget[]];
  const updated = rows[0];
  if (!updated) {
    // Still there: a concurrent change moved it so that this patch no longer fits.
    await getWidget(db, actor, dashboardId, id);
    throw validationError(overflowField, gridOverflowMessage);
  }
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
  // Of two concurrent deletes of the same widget, only the one that deleted it publishes.
  event.onlyIf = changedARow;
  await events.commit(db, [db.delete(widgets).where(widgetWhere(actor, dashboardId, id))], [event]);
}
