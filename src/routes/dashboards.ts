import { Hono } from "hono";
import type { AppEnv } from "../env";
import { validate } from "../lib/validate";
import { requireAuth, requireRole } from "../middleware/auth";
import { idParam } from "../schemas/common";
import { createDashboardBody, listDashboardsQuery, updateDashboardBody } from "../schemas/dashboards";
import {
  createDashboard,
  deleteDashboard,
  getDashboardWithWidgets,
  listDashboards,
  toDashboardDetail,
  toDashboardResponse,
  updateDashboard,
} from "../services/dashboards";
import { presentWidgets } from "../services/widgets";

// Roles are checked per route, not with `use("*")`: this app's `*` also covers the widget
// routes mounted under /api/dashboards/:dashboardId/widgets, where viewers may read.
export const dashboardRoutes = new Hono<AppEnv>()
  .use("*", requireAuth)
  .get("/", validate("query", listDashboardsQuery), async (c) => {
    return c.json(await listDashboards(c.var.db, c.var.actor, c.req.valid("query")));
  })
  .post("/", requireRole("editor"), validate("json", createDashboardBody), async (c) => {
    const dashboard = await createDashboard(c.var.db, c.var.actor, c.req.valid("json"), c.var.events);
    return c.json(toDashboardResponse(dashboard), 201);
  })
  .get("/:id", validate("param", idParam), async (c) => {
    const { dashboard, widgets } = await getDashboardWithWidgets(c.var.db, c.var.actor, c.req.valid("param").id);
    return c.json(toDashboardDetail(dashboard, await presentWidgets(c.var, widgets)));
  })
  .patch("/:id", requireRole("editor"), validate("param", idParam), validate("json", updateDashboardBody), async (c) => {
    const dashboard = await updateDashboard(c.var.db, c.var.actor, c.req.valid("param").id, c.req.valid("json"), c.var.events);
    return c.json(toDashboardResponse(dashboard));
  })
  .delete("/:id", requireRole("editor"), validate("param", idParam), async (c) => {
    await deleteDashboard(c.var.db, c.var.actor, c.req.valid("param").id, c.var.events);
    return c.body(null, 204);
  });
