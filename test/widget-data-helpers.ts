// Shared by the widget-data tests of every source type.
import { env } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { expect } from "vitest";
import * as schema from "../src/db/schema";
import { loadConfig } from "../src/env";
import { api, type TestUser } from "./helpers";

/** The dashboard as a member sees it: its widgets, each with `data`. */
export const view = async (user: TestUser, dashboardId: string) => {
  const res = await api("GET", `/api/dashboards/${dashboardId}`, { token: user.token });
  expect(res.status).toBe(200);
  return res.body.widgets as { id: string; title: string; data: any }[];
};

/** A widget-data context with some settings changed (short timeouts, small caps). */
export const ctxWith = (overrides: Partial<ReturnType<typeof loadConfig>>) => ({
  db: drizzle(env.DB, { schema }),
  config: { ...loadConfig(env), ...overrides },
  sampleDb: env.SAMPLE_DB,
});

/** The stored widget row. */
export const widgetRow = async (id: string) =>
  (await drizzle(env.DB, { schema }).select().from(schema.widgets).where(eq(schema.widgets.id, id)).get())!;
