import { sql } from "drizzle-orm";
import { Hono } from "hono";
import type { AppEnv } from "../env";
import { ApiError } from "../lib/errors";
import { errorFields, log } from "../lib/log";
import type { HealthResponse } from "../schemas/health";

export const healthRoutes = new Hono<AppEnv>().get("/", async (c) => {
  try {
    await c.var.db.run(sql`select 1`);
  } catch (err) {
    log("error", "health check: D1 query failed", errorFields(err));
    throw new ApiError("service_unavailable", "The database is unavailable");
  }
  return c.json({ status: "ok" } satisfies HealthResponse);
});
