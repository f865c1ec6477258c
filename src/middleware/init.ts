import type { Context, Next } from "hono";
import { createMiddleware } from "hono/factory";
import { routePath } from "hono/route";
import { databaseFor } from "../db/database";
import { ConfigError, loadConfig, type AppEnv } from "../env";
import { ApiError } from "../lib/errors";
import { log } from "../lib/log";
import { chooseRequestId, requestContext } from "../lib/request-context";
import { createWebhookPublisher } from "../services/webhook-outbox";

/**
 * Runs first on every request: assigns the request id (every log line the request causes
 * carries it), writes the request's one access-log line, and builds config and db once into the
 * context.
 */
export const init = createMiddleware<AppEnv>(async (c, next) => {
  const requestId = chooseRequestId(c.req.header("x-request-id"), c.req.header("cf-ray"));
  c.set("requestId", requestId);
  c.header("X-Request-Id", requestId);
  const started = performance.now();
  await requestContext.run({ requestId }, async () => {
    let escaped: unknown;
    try {
      await prepare(c, next);
    } catch (err) {
      // Thrown before any handler ran (invalid configuration): onError answers it after us.
      escaped = err;
      throw err;
    } finally {
      logRequest(c, started, escaped);
    }
  });
});

/** One structured line per request: what was asked, by whom, and how it ended. No secrets. */
function logRequest(c: Context<AppEnv>, started: number, escaped: unknown) {
  const status = escaped === undefined ? c.res.status : escaped instanceof ApiError ? escaped.status : 500;
  // A read's token is checked with its batch, after the actor is set: a 401 names nobody.
  const actor = status === 401 ? undefined : c.get("actor");
  log(status >= 500 ? "error" : "info", "request", {
    method: c.req.method,
    // The route's pattern, not the path: ids stay out of the line and routes group in queries.
    route: c.finalized ? routePath(c) || null : null,
    status,
    durationMs: Math.round((performance.now() - started) * 10) / 10,
    organizationId: actor?.organizationId ?? null,
    userId: actor?.userId ?? null,
  });
}

// A missing or weak secret stops the request here with a 500 rather than letting the Worker
// sign tokens with an empty key.
async function prepare(c: Context<AppEnv>, next: Next) {
  try {
    c.set("config", loadConfig(c.env));
  } catch (err) {
    if (err instanceof ConfigError) {
      log("error", "internal_server_error: refusing to serve with invalid configuration", { reason: err.message });
      throw new ApiError("internal_server_error", "The server is misconfigured");
    }
    throw err;
  }
  c.set("db", databaseFor(c.env.DB));
  // Dashboard/widget changes commit with their webhook deliveries; the Queue send runs after
  // the response (waitUntil), and if it fails the sweeper sends them later.
  c.set("events", createWebhookPublisher({ queue: c.env.WEBHOOK_QUEUE, defer: (work) => c.executionCtx.waitUntil(work) }));
  c.set("sampleDb", c.env.SAMPLE_DB);
  await next();
}
