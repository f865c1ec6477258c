import { drizzle } from "drizzle-orm/d1";
import { createMiddleware } from "hono/factory";
import * as schema from "../db/schema";
import { ConfigError, loadConfig, type AppEnv } from "../env";
import { ApiError } from "../lib/errors";
import { log } from "../lib/log";
import { createWebhookPublisher } from "../services/webhook-outbox";

/**
 * Runs first on every request: assigns the request id and builds config and db once into the
 * context. A missing or weak secret stops the request here with a 500 rather than letting the
 * Worker sign tokens with an empty key.
 */
export const init = createMiddleware<AppEnv>(async (c, next) => {
  const requestId = c.req.header("cf-ray") ?? crypto.randomUUID();
  c.set("requestId", requestId);
  c.header("X-Request-Id", requestId);
  try {
    c.set("config", loadConfig(c.env));
  } catch (err) {
    if (err instanceof ConfigError) {
      log("error", "internal_server_error: refusing to serve with invalid configuration", {
        requestId,
        reason: err.message,
      });
      throw new ApiError("internal_server_error", "The server is misconfigured");
    }
    throw err;
  }
  c.set("db", drizzle(c.env.DB, { schema }));
  // Dashboard/widget changes commit with their webhook deliveries; the Queue send runs after
  // the response (waitUntil), and if it fails the sweeper sends them later.
  c.set("events", createWebhookPublisher({ queue: c.env.WEBHOOK_QUEUE, defer: (work) => c.executionCtx.waitUntil(work) }));
  await next();
});
