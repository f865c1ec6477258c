// Faults in the Worker's dependencies, injected by wrapping its bindings (test/faults.ts): D1
// failing in the middle of a request, the Queue refusing sends, the rate limiter's Durable Object
// failing or hanging, and a webhook receiver that is down for a while. What must hold: every
// failure answers in the error shape, nothing is half-written, and no webhook event is lost.
import { createScheduledController, env } from "cloudflare:test";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import worker from "../src/index";
import { POLICY_DEFINITIONS } from "../src/lib/rate-limit";
import { SAMPLE_DATA_SOURCE_ID } from "../src/services/sample-source";
import { addMember, api, expectError, registerOrg, uniqueEmail, type ApiResponse, type TestUser } from "./helpers";
import { callWith, count, failingLimiter, failingQueue, faultsInjected, faultyD1, snapshotD1, type D1FaultRule, type LimiterFault } from "./faults";
import { createSink, lateListener } from "./receiver/client";
import { config, consumeBodies, subscribe, type TestSubscription } from "./webhook-helpers";

// The Worker logs every injected failure (that is its job); keep the test output readable.
beforeEach(() => {
  for (const level of ["error", "warn", "log"] as const) vi.spyOn(console, level).mockImplementation(() => {});
});
afterEach(() => vi.restoreAllMocks());

afterAll(() => {
  const { total, byKind } = faultsInjected();
  console.log(`faults injected: ${total} (${Object.entries(byKind).map(([k, n]) => `${k} ${n}`).join(", ")})`);
});

const pendingDeliveries = async (subscriptionId?: string) =>
  (
    await env.DB.prepare("SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'pending' AND (?1 IS NULL OR subscription_id = ?1)")
      .bind(subscriptionId ?? null)
      .first<{ n: number }>()
  )!.n;

/** Waits until the real Queue consumer has finished every delivery (of one subscription), so D1 holds still. */
async function settle(timeoutMs = 20_000, subscriptionId?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await pendingDeliveries(subscriptionId)) > 0) {
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
const dataSourceBody = {
  name: "Warehouse",
  type: "postgresql",
  connection: { host: "127.0.0.1", port: 5432, database: "dw", username: "bi", password: "secret" },
};
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
    name: "webhook subscription update",
    ok: 200,
    prepare: async () => {
      const { admin, sub } = await subscribedOrg();
      return { method: "PATCH", path: `/api/webhooks/${sub.id}`, token: admin.token, body: { events: ["dashboard.created"], active: true } };
    },
  },
  {
    name: "webhook subscription delete (with its delivery log)",
    ok: 204,
    prepare: async () => {
      const { admin, sub } = await subscribedOrg();
      await dashboardWithWidget(admin);
      return { method: "DELETE", path: `/api/webhooks/${sub.id}`, token: admin.token };
    },
  },
  {
    name: "webhook ping",
    ok: 202,
    prepare: async () => {
      const { admin, sub } = await subscribedOrg();
      return { method: "POST", path: `/api/webhooks/${sub.id}/ping`, token: admin.token };
    },
  },
  {
    name: "webhook redelivery",
    ok: 202,
    prepare: async () => {
      const { admin, sub } = await subscribedOrg();
      await api("POST", "/api/dashboards", { token: admin.token, body: dashboardBody });
      await settle();
      const log = await api("GET", `/api/webhooks/${sub.id}/deliveries`, { token: admin.token });
      return { method: "POST", path: `/api/webhooks/${sub.id}/deliveries/${log.body.data[0].id}/redeliver`, token: admin.token };
    },
  },
  {
    name: "user role change (the last-admin guard)",
    ok: 200,
    prepare: async () => {
      const admin = await registerOrg();
      const other = await addMember(admin, "admin");
      return { method: "PATCH", path: `/api/users/${other.id}`, token: admin.token, body: { role: "viewer" } };
    },
  },
  {
    name: "user delete (and their sessions)",
    ok: 204,
    prepare: async () => {
      const admin = await registerOrg();
      const other = await addMember(admin, "editor");
      return { method: "DELETE", path: `/api/users/${other.id}`, token: admin.token };
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
        body: dataSourceBody,
      };
    },
  },
  {
    name: "data source update (password re-encrypted)",
    ok: 200,
    prepare: async () => {
      const admin = await registerOrg();
      const source = await api("POST", "/api/data-sources", { token: admin.token, body: dataSourceBody });
      return { method: "PATCH", path: `/api/data-sources/${source.body.id}`, token: admin.token, body: { name: "Lake", connection: { password: "rotated" } } };
    },
  },
  {
    name: "data source delete (the in-use guard)",
    ok: 204,
    prepare: async () => {
      const admin = await registerOrg();
      const source = await api("POST", "/api/data-sources", { token: admin.token, body: dataSourceBody });
      return { method: "DELETE", path: `/api/data-sources/${source.body.id}`, token: admin.token };
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

describe("the sample data source's database failing", () => {
  it("a dashboard still answers 200; the widget's data says what failed, and the connection test reports it", async () => {
    const admin = await registerOrg();
    const { dashboardId } = await dashboardWithWidget(admin);
    const widget = await api("POST", `/api/dashboards/${dashboardId}/widgets`, {
      token: admin.token,
      body: { ...widgetBody, x: 4, dataSourceId: SAMPLE_DATA_SOURCE_ID, config: { query: "SELECT 1 AS n", cacheTtlSeconds: 0 } },
    });
    expect(widget.status).toBe(201);
    const broken = { SAMPLE_DB: faultyD1(env.SAMPLE_DB, { sql: /./, times: Infinity }).binding };
    const view = await callWith(broken, "GET", `/api/dashboards/${dashboardId}`, { token: admin.token });
    expect(view.status).toBe(200);
    const data = view.body.widgets.find((w: { id: string }) => w.id === widget.body.id).data;
    // The database failing is not the query's fault (a SQL error is query_error, with D1's words).
    expect(data).toEqual({ error: { code: "data_source_unavailable", message: "The sample database did not answer" } });
    const test = await callWith(broken, "POST", `/api/data-sources/${SAMPLE_DATA_SOURCE_ID}/test`, { token: admin.token });
    expect(test.status).toBe(200);
    expect(test.body).toMatchObject({ success: false });
    // Healthy again: the same view has rows.
    const healthy = await api("GET", `/api/dashboards/${dashboardId}`, { token: admin.token });
    expect(healthy.body.widgets.find((w: { id: string }) => w.id === widget.body.id).data).toMatchObject({ rows: [[1]] });
  });
});

// ---- The Queue, the consumer and the sweeper

const grace = () => config().webhooks.sweepGraceSeconds * 1000;

/** The Worker's scheduled() handler (the outbox sweeper) at `scheduledTime`, with env overrides. */
async function sweep(scheduledTime: number, overrides: Partial<Env> = {}) {
  await worker.scheduled(createScheduledController({ scheduledTime, cron: "* * * * *" }), { ...env, ...overrides } as Env);
}

const deliveriesOf = async (subscriptionId: string) =>
  (
    await env.DB.prepare("SELECT id, event, status, attempts, payload FROM webhook_deliveries WHERE subscription_id = ? ORDER BY created_at, rowid")
      .bind(subscriptionId)
      .all<{ id: string; event: string; status: string; attempts: number; payload: string }>()
  ).results;

/** Every delivery of the subscription arrived, verified, and each one's body is its row's payload. */
async function expectAllDelivered(sub: TestSubscription, expected: number, timeoutMs = 20_000) {
  const rows = await deliveriesOf(sub.id);
  expect(rows).toHaveLength(expected);
  await sub.sink.waitFor(expected, timeoutMs);
  const deadline = Date.now() + timeoutMs;
  let accepted: Map<string, string>;
  for (;;) {
    const got = await sub.sink.received();
    accepted = new Map(got.filter((r) => r.answered >= 200 && r.answered < 300).map((r) => [r.headers["webhook-id"]!, r.body]));
    if (accepted.size >= expected || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const got = await sub.sink.received();
  expect(got.every((r) => r.verifiedBy[0]), "every delivery verifies").toBe(true);
  // None lost: every row's id was accepted once at least, with that row's exact payload.
  expect([...accepted.keys()].sort()).toEqual(rows.map((r) => r.id).sort());
  for (const row of rows) expect(accepted.get(row.id)).toBe(row.payload);
  await settle(timeoutMs, sub.id);
  for (const row of await deliveriesOf(sub.id)) expect(row.status).toBe("succeeded");
  return { rows, received: got };
}

/** A handful of dashboard and widget changes through the Worker with `overrides` in its env. */
async function changeThings(admin: TestUser, overrides: Partial<Env>) {
  const call = (method: string, path: string, body?: unknown) => callWith(overrides, method, path, { token: admin.token, body });
  const dashboard = await call("POST", "/api/dashboards", dashboardBody);
  expect(dashboard.status).toBe(201);
  const base = `/api/dashboards/${dashboard.body.id}`;
  expect((await call("PATCH", base, { name: "Sales 2026" })).status).toBe(200);
  const widget = await call("POST", `${base}/widgets`, widgetBody);
  expect(widget.status).toBe(201);
  expect((await call("PATCH", `${base}/widgets/${widget.body.id}`, { title: "Orders (EUR)" })).status).toBe(200);
  const other = await call("POST", `${base}/widgets`, { ...widgetBody, x: 4 });
  expect((await call("DELETE", `${base}/widgets/${other.body.id}`)).status).toBe(204);
  // The dashboard's delete also deletes (and announces) its remaining widget.
  expect((await call("DELETE", base)).status).toBe(204);
  // created, updated, widget created ×2, updated, deleted ×2, dashboard deleted
  return 8;
}

describe("the Queue refusing sends", () => {
  it("changes still commit; their deliveries wait, and the sweeper delivers every one exactly once", async () => {
    const { admin, sub } = await subscribedOrg();
    const queue = failingQueue();
    const expected = await changeThings(admin, { WEBHOOK_QUEUE: queue });
    // One refused send per change (the dashboard delete sends its two events together).
    expect(queue.refused).toBe(7);
    const rows = await deliveriesOf(sub.id);
    expect(rows.map((r) => [r.status, r.attempts])).toEqual(rows.map(() => ["pending", 0]));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await sub.sink.received()).toEqual([]);

    // Within the grace the sweeper leaves them (the send may still be on its way).
    await sweep(Date.now());
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await sub.sink.received()).toEqual([]);
    await sweep(Date.now() + grace() + 1000);
    const { received } = await expectAllDelivered(sub, expected);
    expect(received).toHaveLength(expected);
  });

  it("a sweep whose own send fails leaves them pending; the next sweep after the grace delivers them", async () => {
    const { admin, sub } = await subscribedOrg();
    const expected = await changeThings(admin, { WEBHOOK_QUEUE: failingQueue() });
    const first = Date.now() + grace() + 1000;
    const sweeperQueue = failingQueue();
    await sweep(first, { WEBHOOK_QUEUE: sweeperQueue });
    expect(sweeperQueue.refused).toBeGreaterThan(0);
    expect((await deliveriesOf(sub.id)).every((r) => r.status === "pending")).toBe(true);
    // Marked due at the failed run, so a run a minute later does not pick them up yet...
    await sweep(first + 60_000);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await sub.sink.received()).toEqual([]);
    // ...one a grace period later does.
    await sweep(first + grace() + 1000);
    await expectAllDelivered(sub, expected);
  });

  it("a ping and a redelivery answer 202 and wait for the sweeper", async () => {
    const { admin, sub } = await subscribedOrg();
    const queue = failingQueue();
    const ping = await callWith({ WEBHOOK_QUEUE: queue }, "POST", `/api/webhooks/${sub.id}/ping`, { token: admin.token });
    expect(ping.status).toBe(202);
    await sweep(Date.now() + grace() + 1000);
    await expectAllDelivered(sub, 1);
    const again = await callWith({ WEBHOOK_QUEUE: queue }, "POST", `/api/webhooks/${sub.id}/deliveries/${ping.body.id}/redeliver`, { token: admin.token });
    expect(again.status).toBe(202);
    expect(queue.refused).toBe(2);
    await sweep(Date.now() + 2 * grace() + 2000);
    await sub.sink.waitFor(2);
    expect((await sub.sink.received()).map((r) => r.headers["webhook-id"])).toEqual([ping.body.id, ping.body.id]);
    await settle();
  });
});

describe("D1 failing around the outbox", () => {
  it("a change whose commit succeeded but whose answer was lost: 500, and its events are still delivered", async () => {
    const { admin, sub } = await subscribedOrg();
    await settle();
    const before = await snapshotD1();
    const d1 = faultyD1(env.DB, { sql: /^insert into "dashboards"/, when: "after" });
    const res = await callWith({ DB: d1.binding }, "POST", "/api/dashboards", { token: admin.token, body: dashboardBody });
    expect(d1.failed).toHaveLength(1);
    expectInternalError(res);
    // All or nothing, and here it was all: the dashboard and its delivery, no Queue send.
    expect(await snapshotD1()).not.toEqual(before);
    const rows = await deliveriesOf(sub.id);
    expect(rows.map((r) => r.event)).toEqual(["dashboard.created"]);
    const list = await api("GET", "/api/dashboards", { token: admin.token });
    expect(list.body.data.map((d: { name: string }) => d.name)).toEqual([dashboardBody.name]);
    await sweep(Date.now() + grace() + 1000);
    await expectAllDelivered(sub, 1);
  });

  it("the consumer failing to claim an attempt retries the message; nothing was sent, the sweeper delivers it", async () => {
    const { admin, sub } = await subscribedOrg();
    const created = await callWith({ WEBHOOK_QUEUE: failingQueue() }, "POST", "/api/dashboards", { token: admin.token, body: dashboardBody });
    expect(created.status).toBe(201);
    const [row] = await deliveriesOf(sub.id);
    const d1 = faultyD1(env.DB, { failAt: 1 });
    const result = await consumeBodies([{ id: "m1", body: { deliveryId: row!.id } }], undefined, { ...env, DB: d1.binding } as Env);
    expect(d1.failed).toHaveLength(1);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(["m1"]);
    expect(await sub.sink.received()).toEqual([]);
    expect((await deliveriesOf(sub.id))[0]).toMatchObject({ status: "pending", attempts: 0 });
    await sweep(Date.now() + grace() + 1000);
    await expectAllDelivered(sub, 1);
  });

  it("the consumer failing to record a sent attempt retries the message; the delivery is sent again (at least once), none lost", async () => {
    const { admin, sub } = await subscribedOrg();
    await callWith({ WEBHOOK_QUEUE: failingQueue() }, "POST", "/api/dashboards", { token: admin.token, body: dashboardBody });
    const [row] = await deliveriesOf(sub.id);
    // Call 1 claims the attempt, the receiver is posted to, call 2 (the record) fails.
    const d1 = faultyD1(env.DB, { failAt: 2 });
    const result = await consumeBodies([{ id: "m1", body: { deliveryId: row!.id } }], undefined, { ...env, DB: d1.binding } as Env);
    expect(d1.failed.map((c) => c.kind)).toEqual(["batch"]);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(["m1"]);
    expect(await sub.sink.received()).toHaveLength(1);
    // Claimed but not recorded: pending under its lease. Once the lease is over the sweeper re-sends.
    expect((await deliveriesOf(sub.id))[0]).toMatchObject({ status: "pending", attempts: 1 });
    await sweep(Date.now() + grace() + 60_000);
    await sub.sink.waitFor(2);
    const { received } = await expectAllDelivered(sub, 1);
    expect(received.map((r) => r.headers["webhook-id"])).toEqual([row!.id, row!.id]);
  });

  it("a sweep that cannot reach D1 fails (the cron run shows as failed) and the next one delivers", async () => {
    const { admin, sub } = await subscribedOrg();
    const expected = await changeThings(admin, { WEBHOOK_QUEUE: failingQueue() });
    const d1 = faultyD1(env.DB, { failAt: 1 });
    await expect(sweep(Date.now() + grace() + 1000, { DB: d1.binding })).rejects.toMatchObject({ cause: { name: "InjectedFault" } });
    await sweep(Date.now() + grace() + 1000);
    await expectAllDelivered(sub, expected);
  });
});

// ---- The rate limiter's Durable Object

describe("the rate limiter's Durable Object failing", () => {
  const modes: LimiterFault[] = ["rejects", "hangs", "stub throws", "lookup throws"];
  for (const mode of modes) {
    it(`(${mode}) fails open for general traffic and closed (503) for login, register and password change`, async () => {
      const admin = await registerOrg();
      const vars = { RATE_LIMITER: failingLimiter(mode), RATE_LIMIT_TIMEOUT_MS: "50" } as Partial<Env>;
      const call = (method: string, path: string, options: { token?: string; body?: unknown } = {}) =>
        callWith(vars, method, path, { ...options, headers: { "cf-connecting-ip": "203.0.113.7" } });
      // Fail open: user and ip policies, and the per-organization connection-test policy.
      const open = [
        await call("GET", "/api/users/me", { token: admin.token }),
        await call("GET", "/api/health"),
        await call("POST", "/api/dashboards", { token: admin.token, body: dashboardBody }),
        await call("POST", "/api/auth/refresh-token", { body: { refreshToken: admin.refreshToken } }),
        await call("POST", `/api/data-sources/${SAMPLE_DATA_SOURCE_ID}/test`, { token: admin.token }),
      ];
      expect(open.map((r) => r.status)).toEqual([200, 200, 201, 200, 200]);
      for (const res of open) expect(res.headers.get("ratelimit")).toBeNull();
      // Fail closed: the policies that guard passwords.
      const closed = [
        await call("POST", "/api/auth/login", { body: { email: admin.email, password: admin.password } }),
        await call("POST", "/api/auth/register", {
          body: { email: uniqueEmail("closed"), password: "correct horse battery", firstName: "A", lastName: "B" },
        }),
        await call("POST", "/api/users/me/password", { token: admin.token, body: { currentPassword: admin.password, newPassword: "another horse battery" } }),
      ];
      for (const res of closed) {
        expectError(res, 503, "service_unavailable");
        expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
      }
      // Nothing happened behind a refusal: the password is unchanged.
      expect((await api("POST", "/api/auth/login", { body: { email: admin.email, password: admin.password } })).status).toBe(200);
    });
  }

  it("every fail-closed policy is one of the three routes above", () => {
    const closed = Object.values(POLICY_DEFINITIONS).filter((p) => p.failClosed).map((p) => p.name).sort();
    expect(closed).toEqual(["login-email", "login-ip", "password-ip", "register-ip"]);
  });
});

// ---- A webhook receiver that is down for a while

describe("a webhook receiver down for a while", () => {
  it("refusing connections: every change made meanwhile is delivered once it listens again", async () => {
    const admin = await registerOrg();
    const listener = await lateListener();
    const sink = await createSink({ secrets: [] });
    const created = await api("POST", "/api/webhooks", { token: admin.token, body: { url: listener.url(sink), events: ["*"] } });
    await sink.configure({ secrets: [created.body.secret] });
    const sub: TestSubscription = { id: created.body.id, secret: created.body.secret, sink, body: created.body };
    try {
      const expected = await changeThings(admin, {});
      // Down until every delivery has had an attempt refused (and not much longer: 4 attempts
      // within about 6 s is the test schedule's limit).
      const refused = () =>
        env.DB.prepare(
          "SELECT count(DISTINCT a.delivery_id) AS tried, count(*) AS attempts FROM webhook_delivery_attempts AS a JOIN webhook_deliveries AS d ON d.id = a.delivery_id WHERE d.subscription_id = ?",
        )
          .bind(sub.id)
          .first<{ tried: number; attempts: number }>();
      const deadline = Date.now() + 10_000;
      while ((await refused())!.tried < expected && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await sink.received()).toEqual([]);
      count("receiver", (await refused())!.attempts);
      await listener.up();
      const { received } = await expectAllDelivered(sub, expected, 25_000);
      expect(received).toHaveLength(expected);
    } finally {
      await listener.down();
    }
  });

  it("answering 503 for three seconds: every change made meanwhile is delivered after it recovers", async () => {
    const admin = await registerOrg();
    const sub = await subscribe(admin, { sink: { downUntil: Date.now() + 3000 } });
    const expected = await changeThings(admin, {});
    const { received } = await expectAllDelivered(sub, expected, 25_000);
    const refused = received.filter((r) => r.answered === 503).length;
    expect(refused).toBeGreaterThanOrEqual(expected);
    count("receiver", refused);
  });

  it("dropping connections mid-request, then hanging past the timeout: every event arrives (duplicates only as the same webhook-id)", async () => {
    const admin = await registerOrg();
    const flaky = [{ status: 200, reset: true }, { status: 200, hangMs: 1500 }];
    const sub = await subscribe(admin, { sink: { script: [...flaky, ...flaky] } });
    const expected = await changeThings(admin, {});
    const { received } = await expectAllDelivered(sub, expected, 25_000);
    // A timed-out attempt may still have been processed by the receiver: at least once, by webhook-id.
    expect(new Set(received.map((r) => r.headers["webhook-id"])).size).toBe(expected);
    count("receiver", 4);
  });
});
