import { Hono } from "hono";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import type { AppEnv } from "./env";
import { ApiError } from "./lib/errors";
import { errorFields, log } from "./lib/log";
import { RATE_LIMIT_HEADER_NAMES } from "./lib/rate-limit";
import { limitBody } from "./middleware/body";
import { httpHeaders } from "./middleware/http-headers";
import { init } from "./middleware/init";
import { globalRateLimit } from "./middleware/rate-limit";
import { authRoutes } from "./routes/auth";
import { dashboardRoutes } from "./routes/dashboards";
import { dataSourceTestRoutes } from "./routes/data-source-tests";
import { dataSourceRoutes } from "./routes/data-sources";
import { docsRoutes } from "./routes/docs";
import { healthRoutes } from "./routes/health";
import { publicDashboardRoutes } from "./routes/public-dashboards";
import { userRoutes } from "./routes/users";
import { widgetRoutes } from "./routes/widgets";
import { webhookRoutes } from "./routes/webhooks";

/** Headers a browser client may read. */
export const EXPOSED_HEADERS = ["X-Request-Id", "ETag", "Retry-After", ...RATE_LIMIT_HEADER_NAMES];

export function createApp() {
  const app = new Hono<AppEnv>();

  app.use("*", init);
  app.use("*", httpHeaders);
  app.use(
    "*",
    cors({
      // Only the origins in CORS_ORIGINS (none by default): a browser app on another origin
      // must be named before it can call the API with a user's token.
      origin: (origin, c) => {
        const allowed = c.var.config.corsOrigins;
        return allowed.includes("*") ? "*" : allowed.includes(origin) ? origin : null;
      },
      allowHeaders: ["Authorization", "Content-Type", "If-Match", "If-None-Match", "X-Request-Id"],
      allowMethods: ["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
      exposeHeaders: EXPOSED_HEADERS,
      maxAge: 600,
    }),
  );
  // Every route, present and future: per user with a valid token, else per client IP.
  app.use("*", globalRateLimit);
  // Only the size here: whether a body is JSON is the JSON validator's question, asked after the
  // route's authentication and role checks (a 401 or 403 never depends on the body).
  app.use("*", limitBody);

  app.route("/api/health", healthRoutes);
  app.route("/api/auth", authRoutes);
  app.route("/api/users", userRoutes);
  // Widgets before dashboards: the dashboards app's `*` middleware also matches widget paths,
  // and mounted first the widget handlers answer before it runs a second time.
  app.route("/api/dashboards/:dashboardId/widgets", widgetRoutes);
  app.route("/api/dashboards", dashboardRoutes);
  app.route("/api/public/dashboards", publicDashboardRoutes);
  // Connection tests before the data-sources CRUD router: their own two POST paths.
  app.route("/api/data-sources", dataSourceTestRoutes);
  app.route("/api/data-sources", dataSourceRoutes);
  app.route("/api/webhooks", webhookRoutes);
  // GET /api/openapi.json and the reference page at /api/docs (src/openapi/).
  app.route("/api", docsRoutes);

  app.notFound((c) => {
    // The path exists under another method: 405 with the methods it does take.
    const allowed = allowedMethods(app, c.req.path);
    if (allowed.length > 0) {
      const err = new ApiError("method_not_allowed", `Method ${c.req.method} is not allowed on this route`);
      return c.json(err.toBody(), 405, { Allow: allowed.join(", ") });
    }
    return c.json(new ApiError("not_found", `No route for ${c.req.method} ${c.req.path}`).toBody(), 404);
  });

  app.onError((err, c) => {
    const apiError = toApiError(err);
    if (apiError.status >= 500) {
      log("error", apiError.code, { method: c.req.method, path: c.req.path, ...errorFields(err) });
    }
    // RFC 6750: a 401 for a missing or bad access token names the scheme it wants.
    const challenge: Record<string, string> = apiError.code === "unauthorized" ? { "WWW-Authenticate": 'Bearer realm="edgeboard"' } : {};
    return c.json(apiError.toBody(), apiError.status, { ...challenge, ...apiError.headers });
  });

  return app;
}

function toApiError(err: Error): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof HTTPException) {
    // Hono's own 400s are malformed bodies (e.g. invalid JSON in the validator).
    if (err.status === 400) {
      return new ApiError("validation_error", "Malformed JSON in request body", [
        { field: "body", message: "Body is not valid JSON" },
      ]);
    }
    if (err.status === 413) return new ApiError("payload_too_large", "Request body too large");
    if (err.status === 401) return new ApiError("unauthorized", "Authentication required");
    if (err.status === 404) return new ApiError("not_found", "Resource not found");
  }
  return new ApiError("internal_server_error", "Something went wrong");
}

function allowedMethods(app: Hono<AppEnv>, path: string): string[] {
  const methods = new Set<string>();
  for (const route of app.routes) {
    if (route.method === "ALL" || route.path.includes("*")) continue;
    // Exact, like the router: `/api/health/` is not `/api/health` (404, not a 405 naming GET).
    const pattern = new RegExp(`^${route.path.replace(/:[^/]+/g, "[^/]+")}$`);
    if (pattern.test(path)) methods.add(route.method);
  }
  return [...methods];
}
