import { Hono } from "hono";
import type { AppEnv } from "../env";
import { validate } from "../lib/validate";
import { idParam } from "../schemas/common";
import { getPublicDashboard, toPublicDashboardResponse } from "../services/dashboards";
import { presentWidgets } from "../services/widgets";

/** Read-only, tokenless views of dashboards marked `isPublic`. */
export const publicDashboardRoutes = new Hono<AppEnv>().get("/:id", validate("param", idParam), async (c) => {
  const { dashboard, widgets } = await getPublicDashboard(c.var.db, c.req.valid("param").id);
  return c.json(toPublicDashboardResponse(dashboard, await presentWidgets(c.var, widgets)));
});
