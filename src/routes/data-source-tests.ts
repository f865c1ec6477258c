import type { Context } from "hono";
import { Hono } from "hono";
import type { AppEnv } from "../env";
import { validate } from "../lib/validate";
import { requireAuth, requireRole } from "../middleware/auth";
import { byOrganization, rateLimit } from "../middleware/rate-limit";
import { idParam } from "../schemas/common";
import { testConnectionBody, type ConnectionTestResult } from "../schemas/data-source-connection";
import { testConnection, testSavedConnection, type TestRunOptions } from "../services/connection-tests";
import { isSampleDataSource, testSampleSource } from "../services/sample-source";

// Mounted at /api/data-sources next to the CRUD router. Middleware is attached per route (no
// `use("*")`), so nothing here runs for the CRUD routes, and no path here matches theirs:
// POST /test-connection and POST /:id/test only.

// Connection tests reach outside the Worker: RATE_LIMIT_DATASOURCE_TEST_ORG per organization.
const limitConnectionTests = rateLimit("dataSourceTestOrg", byOrganization);

const runOptions = (c: Context<AppEnv>): TestRunOptions => ({
  allowPrivate: c.var.config.allowPrivateNetworkTargets,
  timeoutMs: c.var.config.testConnectionTimeoutMs,
  requestId: c.var.requestId,
  signal: c.req.raw.signal,
});

export const dataSourceTestRoutes = new Hono<AppEnv>()
  // A failed connection is a successful test: 200 with `success: false` and a code.
  .post(
    "/test-connection",
    requireAuth,
    requireRole("editor"),
    limitConnectionTests,
    validate("json", testConnectionBody),
    async (c) => c.json((await testConnection(c.req.valid("json"), runOptions(c))) satisfies ConnectionTestResult),
  )
  .post("/:id/test", requireAuth, requireRole("editor"), limitConnectionTests, validate("param", idParam), async (c) => {
    const { id } = c.req.valid("param");
    if (isSampleDataSource(id)) return c.json((await testSampleSource(c.var.sampleDb)) satisfies ConnectionTestResult);
    const result = await testSavedConnection(c.var.db, c.var.actor, id, c.var.config.encryptionKey, runOptions(c));
    return c.json(result satisfies ConnectionTestResult);
  });
