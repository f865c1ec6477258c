// The organizations the fuzz attacks: one fresh world per route (so a DELETE case cannot take a
// fixture away from another route), and one other tenant whose real ids every route is sent.
import { env } from "cloudflare:test";
import { inject } from "vitest";
import { SAMPLE_DATA_SOURCE_ID } from "../../src/services/sample-source";
import { addMember, api, registerOrg, uniqueEmail, type TestUser } from "../helpers";
import { createSink } from "../receiver/client";
import { consume } from "../webhook-helpers";
import { type IdKind, type Need, type World } from "./routes";

async function created(path: string, token: string, body: unknown, status = 201): Promise<any> {
  const res = await api("POST", path, { token, body });
  if (res.status !== status) throw new Error(`fixture ${path} answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Delivers a pending delivery now (the real consumer, called directly) and waits until it has left pending. */
export async function settleDelivery(deliveryId: string): Promise<void> {
  await consume([deliveryId]);
  // The Queue's own message may have claimed it first: wait for that attempt to be recorded too.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const row = await env.DB.prepare("SELECT status FROM webhook_deliveries WHERE id = ?").bind(deliveryId).first<{ status: string }>();
    if (!row || row.status !== "pending") return;
    if (Date.now() > deadline) throw new Error(`delivery ${deliveryId} stayed pending`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export async function buildWorld(needs: readonly Need[], admin?: TestUser): Promise<World> {
  const want = new Set<Need>(needs);
  if (want.has("widget")) want.add("dashboard");
  if (want.has("delivery")) want.add("webhook");
  admin ??= await registerOrg({ organizationName: "Fuzz" });
  const sink = await createSink({ secrets: [] });
  const world: World = {
    admin,
    ids: {},
    freshEmail: uniqueEmail("fuzz-new"),
    sinkUrl: sink.url,
    closedPort: inject("closedPort"),
  };
  const { token } = admin;
  if (want.has("dataSource") || want.has("widget")) {
    world.ids.dataSource = (
      await created("/api/data-sources", token, {
        name: "Fuzz PostgreSQL",
        type: "postgresql",
        connection: { host: "127.0.0.1", port: world.closedPort, database: "mydb", username: "user", password: "pw", ssl: "disable" },
      })
    ).id;
  }
  if (want.has("dashboard")) {
    world.ids.dashboard = (await created("/api/dashboards", token, { name: "Fuzz Dashboard", isPublic: true })).id;
  }
  if (want.has("widget")) {
    world.ids.widget = (
      await created(`/api/dashboards/${world.ids.dashboard}/widgets`, token, {
        type: "metric",
        title: "Revenue",
        config: { unit: "EUR" },
        dataSourceId: world.ids.dataSource,
        x: 0,
        y: 0,
        width: 3,
        height: 2,
      })
    ).id;
  }
  if (want.has("widget")) {
    // A second widget with a query on the built-in sample source: every read of the dashboard runs it.
    await created(`/api/dashboards/${world.ids.dashboard}/widgets`, token, {
      type: "table",
      title: "Orders",
      config: { query: "SELECT status, count(*) AS n FROM orders WHERE status <> :skip GROUP BY status", params: { skip: "x" } },
      dataSourceId: SAMPLE_DATA_SOURCE_ID,
      x: 3,
      y: 0,
      width: 6,
      height: 4,
    });
  }
  if (want.has("webhook")) {
    world.ids.webhook = (await created("/api/webhooks", token, { url: world.sinkUrl, events: ["*"] })).id;
  }
  if (want.has("delivery")) {
    const ping = await created(`/api/webhooks/${world.ids.webhook}/ping`, token, undefined, 202);
    await settleDelivery(ping.id);
    world.ids.delivery = ping.id;
  }
  if (want.has("user")) {
    world.ids.user = (
      await created("/api/users", token, { email: uniqueEmail("fuzz-member"), password: "member password 1", firstName: "Mem", lastName: "Ber", role: "editor" })
    ).id;
  }
  if (want.has("session")) {
    const login = await api("POST", "/api/auth/login", { body: { email: admin.email, password: admin.password } });
    if (login.status !== 200) throw new Error(`fixture login answered ${login.status}`);
    world.session = { refreshToken: login.body.refreshToken };
  }
  return world;
}

/** The other tenant: a full set of real resources, and a viewer whose token is the fuzz's low-role caller. */
export interface OtherTenant {
  world: World;
  viewer: TestUser;
}

export async function buildOtherTenant(): Promise<OtherTenant> {
  const world = await buildWorld(["widget", "delivery", "user"]);
  // Off, so no event of this tenant is ever delivered while the fuzz runs.
  const off = await api("PATCH", `/api/webhooks/${world.ids.webhook}`, { token: world.admin.token, body: { active: false } });
  if (off.status !== 200) throw new Error(`fixture webhook PATCH answered ${off.status}`);
  const viewer = await addMember(world.admin, "viewer");
  return { world, viewer };
}

/** Real ids by kind: this world's, the other tenant's, and the built-in sample source every org may read. */
export function idPools(world: World, other: OtherTenant) {
  const own = (kind: IdKind) => world.ids[kind];
  const foreign = (kind: IdKind) => other.world.ids[kind] ?? (kind === "user" ? other.viewer.id : undefined);
  const all = [...Object.values(world.ids), ...Object.values(other.world.ids), other.viewer.id, world.admin.id, SAMPLE_DATA_SOURCE_ID].filter(
    (id): id is string => typeof id === "string",
  );
  return { own, foreign, all };
}
