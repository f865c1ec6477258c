import { Hono } from "hono";
import type { AppEnv } from "../env";
import { clientHasEtag, parseIfMatch, representationEtag, versionEtag } from "../lib/etag";
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
    return c.json(toDashboardResponse(dashboard), 201, { ETag: versionEtag(dashboard.version) });
  })
  .get("/:id", validate("param", idParam), async (c) => {
    const { dashboard, widgets } = await getDashboardWithWidgets(c.var.db, c.var.actor, c.req.valid("param").id);
    const body = JSON.stringify(toDashboardDetail(dashboard, await presentWidgets(c.var, widgets)));
    const etag = await representationEtag(dashboard.version, body);
    if (clientHasEtag(c.req.header("if-none-match"), etag)) return c.body(null, 304, { ETag: etag });
    return c.body(body, 200, { ETag: etag, "Content-Type": "application/json" });
  })
  .patch("/:id", requireRole("editor"), validate("param", idParam), validate("json", updateDashboardBody), async (c) => {
    const { id } = c.req.valid("param");
    const precondition = parseIfMatch(c.req.header("if-match"));
    const dashboard = await updateDashboard(c.var.db, c.var.actor, id, c.req.valid("json"), c.var.events, precondition);
    return c.json(toDashboardResponse(dashboard), 200, { ETag: versionEtag(dashboard.version) });
  })
  .delete("/:id", requireRole("editor"), validate("param", idParam), async (c) => {
    const precondition = parseIfMatch(c.req.header("if-match"));
    await deleteDashboard(c.var.db, c.var.actor, c.req.valid("param").id, c.var.events, precondition);
    return c.body(null, 204);
  });
