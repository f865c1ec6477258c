// Faults in the Worker's dependencies, injected by wrapping its bindings (test/faults.ts): D1
// failing in the middle of a request, the Queue refusing sends, the rate limiter's Durable Object
// failing or hanging, and a webhook receiver that is down for a while. What must hold: every
// failure answers in the error shape, nothing is half-written, and no webhook event is lost.
import { env } from "cloudflare:test";
import { afterAll, describe, expect, it } from "vitest";
import { api, expectError, registerOrg, uniqueEmail, type ApiResponse, type TestUser } from "./helpers";
import { callWith, faultsInjected, faultyD1, snapshotD1, type D1FaultRule } from "./faults";
import { subscribe, type TestSubscription } from "./webhook-helpers";

afterAll(() => {
  const { total, byKind } = faultsInjected();
  console.log(`faults injected: ${total} (${Object.entries(byKind).map(([k, n]) => `${k} ${n}`).join(", ")})`);
});

const pendingDeliveries = async () =>
  (await env.DB.prepare("SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'pending'").first<{ n: number }>())!.n;

/** Waits until the real Queue consumer has finished every delivery, so D1 holds still. */
async function settle(timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await pendingDeliveries()) > 0) {
    if (Date.now() > deadline) throw new Error("deliveries still pending");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface Request {
  method: string;
  path: string;
  token?: string;
  body?: unknown;
}

/** A write request, with the fixtures it needs created fresh for each run. */
interface WriteScenario {
  name: string;
  /** The status the request answers when nothing fails. */
  ok: number;
  prepare(): Promise<Request>;
}

const dashboardBody = { name: "Sales", description: "Monthly", isPublic: false, layout: { columns: 12 } };
const widgetBody = { type: "metric", title: "Orders", config: {}, x: 0, y: 0, width: 4, height: 2 };

/** A fresh organization subscribed to every event, so each change also writes outbox rows. */
async function subscribedOrg(): Promise<{ admin: TestUser; sub: TestSubscription }> {
  const admin = await registerOrg();
  return { admin, sub: await subscribe(admin) };
}

async function dashboardWithWidget(admin: TestUser) {
  const dashboard = await api("POST", "/api/dashboards", { token: admin.token, body: dashboardBody });
  const widget = await api("POST", `/api/dashboards/${dashboard.body.id}/widgets`, { token: admin.token, body: widgetBody });
  return { dashboardId: dashboard.body.id as string, widgetId: widget.body.id as string };
}

const scenarios: WriteScenario[] = [
  {
    name: "register (organization, admin, session)",
    ok: 201,
    prepare: async () => ({
      method: "POST",
      path: "/api/auth/register",
      body: { email: uniqueEmail("reg"), password: "correct horse battery", firstName: "Ada", lastName: "Admin", organizationName: "Acme" },
    }),
  },
  {
    name: "login",
    ok: 200,
    prepare: async () => {
      const admin = await registerOrg();
      return { method: "POST", path: "/api/auth/login", body: { email: admin.email, password: admin.password } };
    },
  },
  {
    name: "refresh-token rotation",
    ok: 200,
    prepare: async () => {
      const admin = await registerOrg();
      return { method: "POST", path: "/api/auth/refresh-token", body: { refreshToken: admin.refreshToken } };
    },
  },
  {
    name: "logout",
    ok: 204,
    prepare: async () => {
      const admin = await registerOrg();
      return { method: "POST", path: "/api/auth/logout", body: { refreshToken: admin.refreshToken } };
    },
  },
  {
    name: "password change (and the other sessions' revocation)",
    ok: 204,
    prepare: async () => {
      const admin = await registerOrg();
      await api("POST", "/api/auth/login", { body: { email: admin.email, password: admin.password } });
      return {
        method: "POST",
        path: "/api/users/me/password",
        token: admin.token,
        body: { currentPassword: admin.password, newPassword: "another horse battery" },
      };
    },
  },
  {
    name: "user create",
    ok: 201,
    prepare: async () => {
      const admin = await registerOrg();
      return {
        method: "POST",
        path: "/api/users",
        token: admin.token,
        body: { email: uniqueEmail("new"), password: "member password 1", firstName: "New", lastName: "Member", role: "editor" },
      };
    },
  },
  {
    name: "dashboard create with a webhook subscription",
    ok: 201,
    prepare: async () => {
      const { admin } = await subscribedOrg();
      return { method: "POST", path: "/api/dashboards", token: admin.token, body: dashboardBody };
    },
  },
  {
    name: "dashboard patch with a webhook subscription",
    ok: 200,
    prepare: async () => {
      const { admin } = await subscribedOrg();
      const { dashboardId } = await dashboardWithWidget(admin);
      return { method: "PATCH", path: `/api/dashboards/${dashboardId}`, token: admin.token, body: { name: "Renamed", isPublic: true } };
    },
  },
  {
    name: "dashboard delete with its widget and a webhook subscription",
    ok: 204,
    prepare: async () => {
      const { admin } = await subscribedOrg();
      const { dashboardId } = await dashboardWithWidget(admin);
      return { method: "DELETE", path: `/api/dashboards/${dashboardId}`, token: admin.token };
    },
  },
  {
    name: "widget create with a webhook subscription",
    ok: 201,
    prepare: async () => {
      const { admin } = await subscribedOrg();
      const { dashboardId } = await dashboardWithWidget(admin);
      return { method: "POST", path: `/api/dashboards/${dashboardId}/widgets`, token: admin.token, body: { ...widgetBody, x: 4 } };
    },
  },
  {
    name: "widget patch with a webhook subscription",
    ok: 200,
    prepare: async () => {
      const { admin } = await subscribedOrg();
      const { dashboardId, widgetId } = await dashboardWithWidget(admin);
      return { method: "PATCH", path: `/api/dashboards/${dashboardId}/widgets/${widgetId}`, token: admin.token, body: { title: "Revenue", x: 6 } };
    },
  },
  {
    name: "widget delete with a webhook subscription",
    ok: 204,
    prepare: async () => {
      const { admin } = await subscribedOrg();
      const { dashboardId, widgetId } = await dashboardWithWidget(admin);
      return { method: "DELETE", path: `/api/dashboards/${dashboardId}/widgets/${widgetId}`, token: admin.token };
    },
  },
  {
    name: "webhook subscription create",
    ok: 201,
    prepare: async () => {
      const admin = await registerOrg();
      return { method: "POST", path: "/api/webhooks", token: admin.token, body: { url: "http://127.0.0.1:9/hook", events: ["*"] } };
    },
  },
  {
    name: "webhook secret rotation",
    ok: 200,
    prepare: async () => {
      const { admin, sub } = await subscribedOrg();
      return { method: "POST", path: `/api/webhooks/${sub.id}/rotate-secret`, token: admin.token };
    },
  },
  {
    name: "data source create",
    ok: 201,
    prepare: async () => {
      const admin = await registerOrg();
      return {
        method: "POST",
        path: "/api/data-sources",
        token: admin.token,
        body: { name: "Warehouse", type: "postgresql", connection: { host: "127.0.0.1", port: 5432, database: "dw", username: "bi", password: "secret" } },
      };
    },
  },
];

async function run(request: Request, rule?: D1FaultRule) {
  const d1 = faultyD1(env.DB, rule);
  const res = await callWith({ DB: d1.binding }, request.method, request.path, { token: request.token, body: request.body });
  return { res, d1 };
}

function expectInternalError(res: ApiResponse) {
  expectError(res, 500, "internal_server_error");
  // Nothing about the failure leaks to the client.
  expect(JSON.stringify(res.body)).not.toMatch(/D1_ERROR|injected|SELECT|INSERT|UPDATE/i);
}

describe("D1 failing in the middle of a request", () => {
  for (const scenario of scenarios) {
    it(`${scenario.name}: every call failing in turn answers 500 and writes nothing`, async () => {
      // A dry run counts the calls the request makes.
      const dry = await run(await scenario.prepare());
      expect(dry.res.status, JSON.stringify(dry.res.body)).toBe(scenario.ok);
      const total = dry.d1.calls.length;
      expect(total).toBeGreaterThan(0);
      for (let n = 1; n <= total; n++) {
        const request = await scenario.prepare();
        await settle();
        const before = await snapshotD1();
        const { res, d1 } = await run(request, { failAt: n });
        expect(d1.failed.map((c) => c.n), `call ${n} of ${total} was not reached`).toEqual([n]);
        expectInternalError(res);
        expect(await snapshotD1(), `${scenario.name}: failing call ${n} (${d1.failed[0]!.kind}: ${d1.failed[0]!.sql.join("; ")}) left a partial write`).toEqual(before);
      }
    });
  }
});
