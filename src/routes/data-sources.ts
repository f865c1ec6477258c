import { Hono } from "hono";
import type { AppEnv } from "../env";
import { validate } from "../lib/validate";
import { requireAuth, requireRole } from "../middleware/auth";
import { idParam } from "../schemas/common";
import { createDataSourceBody, listDataSourcesQuery, updateDataSourceBody } from "../schemas/data-sources";
import {
  createDataSource,
  deleteDataSource,
  getDataSource,
  listDataSources,
  toDataSourceResponse,
  updateDataSource,
} from "../services/data-sources";

// Every member lists sources (to attach them to widgets); only admins see or change connections.
export const dataSourceRoutes = new Hono<AppEnv>()
  .use("*", requireAuth)
  .get("/", validate("query", listDataSourcesQuery), async (c) => {
    return c.json(await listDataSources(c.var.db, c.var.actor, c.req.valid("query")));
  })
  .post("/", requireRole("admin"), validate("json", createDataSourceBody), async (c) => {
    const source = await createDataSource(c.var.db, c.var.actor, c.req.valid("json"), c.var.config.encryptionKey);
    return c.json(toDataSourceResponse(source), 201);
  })
  .get("/:id", requireRole("admin"), validate("param", idParam), async (c) => {
    return c.json(toDataSourceResponse(await getDataSource(c.var.db, c.var.actor, c.req.valid("param").id)));
  })
  .patch("/:id", requireRole("admin"), validate("param", idParam), validate("json", updateDataSourceBody), async (c) => {
    const { id } = c.req.valid("param");
    const source = await updateDataSource(c.var.db, c.var.actor, id, c.req.valid("json"), c.var.config.encryptionKey);
    return c.json(toDataSourceResponse(source));
  })
  .delete("/:id", requireRole("admin"), validate("param", idParam), async (c) => {
    await deleteDataSource(c.var.db, c.var.actor, c.req.valid("param").id);
    return c.body(null, 204);
  });
