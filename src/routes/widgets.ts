import { Hono } from "hono";
import type { AppEnv } from "../env";
import { validate } from "../lib/validate";
import { requireAuth, requireRole } from "../middleware/auth";
import {
  createWidgetBody,
  dashboardIdParam,
  listWidgetsQuery,
  updateWidgetBody,
  widgetDataQuery,
  widgetIdParams,
  type WidgetDataResponse,
  type WidgetResponse,
} from "../schemas/widgets";
import type { Page } from "../lib/pagination";
import {
  createWidget,
  deleteWidget,
  getWidget,
  listWidgets,
  presentWidget,
  presentWidgets,
  updateWidget,
  widgetData,
} from "../services/widgets";

/** Mounted at /api/dashboards/:dashboardId/widgets. */
export const widgetRoutes = new Hono<AppEnv>()
  .use("*", requireAuth)
  .get("/", validate("param", dashboardIdParam), validate("query", listWidgetsQuery), async (c) => {
    const page = await listWidgets(c.var.db, c.var.actor, c.req.valid("param").dashboardId, c.req.valid("query"));
    return c.json({ data: await presentWidgets(c.var, page.data), meta: page.meta } satisfies Page<WidgetResponse>);
  })
  .post("/", requireRole("editor"), validate("param", dashboardIdParam), validate("json", createWidgetBody), async (c) => {
    const { dashboardId } = c.req.valid("param");
    const widget = await createWidget(c.var.db, c.var.actor, dashboardId, c.req.valid("json"), c.var.events);
    return c.json(await presentWidget(c.var, widget), 201);
  })
  .get("/:id", validate("param", widgetIdParams), async (c) => {
    const { dashboardId, id } = c.req.valid("param");
    return c.json(await presentWidget(c.var, await getWidget(c.var.db, c.var.actor, dashboardId, id)));
  })
  .get("/:id/data", validate("param", widgetIdParams), validate("query", widgetDataQuery), async (c) => {
    const { dashboardId, id } = c.req.valid("param");
    const widget = await getWidget(c.var.db, c.var.actor, dashboardId, id);
    // 200 with the widget's `data`, whatever it holds: a failing query is data about the widget, not a failed request.
    const data = await widgetData(c.var, widget, { refresh: c.req.valid("query").refresh });
    return c.json({ id: widget.id, data } satisfies WidgetDataResponse);
  })
  .patch("/:id", requireRole("editor"), validate("param", widgetIdParams), validate("json", updateWidgetBody), async (c) => {
    const { dashboardId, id } = c.req.valid("param");
    const widget = await updateWidget(c.var.db, c.var.actor, dashboardId, id, c.req.valid("json"), c.var.events);
    return c.json(await presentWidget(c.var, widget));
  })
  .delete("/:id", requireRole("editor"), validate("param", widgetIdParams), async (c) => {
    const { dashboardId, id } = c.req.valid("param");
    await deleteWidget(c.var.db, c.var.actor, dashboardId, id, c.var.events);
    return c.body(null, 204);
  });
