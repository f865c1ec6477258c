import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";

// Sent on every response unless the handler chose its own (the docs page sets a CSP that lets
// its scripts run). API answers are JSON: nothing in them should ever execute, frame or be cached.
const DEFAULTS: Record<string, string> = {
  "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
  "Cross-Origin-Opener-Policy": "same-origin",
  // Tokens, private dashboards and member lists must not sit in a browser's or proxy's cache.
  // Public documents (the API document, the docs page) say otherwise themselves.
  "Cache-Control": "no-store",
};

export const httpHeaders = createMiddleware<AppEnv>(async (c, next) => {
  await next();
  for (const [name, value] of Object.entries(DEFAULTS)) {
    if (!c.res.headers.has(name)) c.header(name, value);
  }
});
