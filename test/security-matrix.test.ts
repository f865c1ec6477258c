// The isolation, authentication and authorization matrix: every registered route and method,
// attacked by another organization's admin, by members whose role is not enough, with every kind
// of bad access token, and with the tokens of sessions that have ended. Every refusal must leave
// the attacked organization's rows exactly as they were (test/db-snapshot.ts).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import readme from "../README.md?raw";
import { createApp } from "../src/app";
import type { Role } from "../src/db/schema";
import { widgetBody } from "./crud-helpers";
import { snapshotOrg } from "./db-snapshot";
import { PG, sourceBody } from "./db-targets";
import { addMember, api, expectError, registerOrg, uniqueEmail, type ApiResponse, type TestUser } from "./helpers";
import { bearer, buildOrg, fillPath, login, paramsOf, TOKEN_ATTACKS, type Fixture, type Org } from "./security-fixture";

type Access = "public" | Role;

interface Entry {
  /** The least role that may call the route (README "Routes"), or public (no token). */
  access: Access;
  /** The status of a successful call. */
  ok: number;
  /** Only the caller's own account: any member may, viewers included. */
  self?: true;
  /** A body the route accepts, so that a refusal is about who asks, never about what is sent. */
  body?: (f: Fixture, as: TestUser) => unknown;
}

const RECEIVER_URL = "http://127.0.0.1:9/security-matrix";

// One entry per registered (method, path); the first test fails for a route without one.
const MATRIX: Record<string, Entry> = {
  "GET /api/health": { access: "public", ok: 200 },
  "POST /api/auth/register": {
    access: "public",
    ok: 201,
    body: () => ({ email: uniqueEmail("matrix"), password: "matrix register pw", firstName: "Mat", lastName: "Rix" }),
  },
  "POST /api/auth/login": { access: "public", ok: 200, body: (f) => ({ email: f.b.editor.email, password: f.b.editor.password }) },
  "POST /api/auth/refresh-token": { access: "public", ok: 200, body: async (f) => ({ refreshToken: (await login(f.b.editor)).refreshToken }) },
  "POST /api/auth/logout": { access: "public", ok: 204, body: async (f) => ({ refreshToken: (await login(f.b.editor)).refreshToken }) },

  "GET /api/users/me": { access: "viewer", ok: 200 },
  "PATCH /api/users/me": { access: "viewer", ok: 200, self: true, body: () => ({ firstName: "Renamed" }) },
  // The same password again: a real change (new salt, other sessions signed out), nothing to track.
  "POST /api/users/me/password": {
    access: "viewer",
    ok: 204,
    self: true,
    body: (_f, as) => ({ currentPassword: as.password, newPassword: as.password }),
  },
  "GET /api/users": { access: "admin", ok: 200 },
  "POST /api/users": {
    access: "admin",
    ok: 201,
    body: () => ({ email: uniqueEmail("matrix"), password: "matrix member pw", firstName: "New", lastName: "Member", role: "admin" }),
  },
  "GET /api/users/:id": { access: "admin", ok: 200 },
  "PATCH /api/users/:id": { access: "admin", ok: 200, body: () => ({ role: "admin", firstName: "Hijacked" }) },
  "DELETE /api/users/:id": { access: "admin", ok: 204 },

  "GET /api/dashboards": { access: "viewer", ok: 200 },
  "POST /api/dashboards": { access: "editor", ok: 201, body: () => ({ name: "Matrix created" }) },
  "GET /api/dashboards/:id": { access: "viewer", ok: 200 },
  "PATCH /api/dashboards/:id": { access: "editor", ok: 200, body: () => ({ name: "Hijacked", isPublic: false }) },
  "DELETE /api/dashboards/:id": { access: "editor", ok: 204 },

  "GET /api/dashboards/:dashboardId/widgets": { access: "viewer", ok: 200 },
  "POST /api/dashboards/:dashboardId/widgets": { access: "editor", ok: 201, body: () => widgetBody({ y: 8 }) },
  "GET /api/dashboards/:dashboardId/widgets/:id": { access: "viewer", ok: 200 },
  "GET /api/dashboards/:dashboardId/widgets/:id/data": { access: "viewer", ok: 200 },
  "PATCH /api/dashboards/:dashboardId/widgets/:id": { access: "editor", ok: 200, body: () => ({ title: "Hijacked" }) },
  "DELETE /api/dashboards/:dashboardId/widgets/:id": { access: "editor", ok: 204 },

  "GET /api/public/dashboards/:id": { access: "public", ok: 200 },

  "GET /api/openapi.json": { access: "public", ok: 200 },
  "GET /api/docs": { access: "public", ok: 200 },
  "GET /api/docs/:file": { access: "public", ok: 200 },

  "GET /api/data-sources": { access: "viewer", ok: 200 },
  "POST /api/data-sources": { access: "admin", ok: 201, body: () => sourceBody(PG, "Matrix created") },
  "GET /api/data-sources/:id": { access: "admin", ok: 200 },
  "PATCH /api/data-sources/:id": { access: "admin", ok: 200, body: () => ({ name: "Hijacked", connection: { host: "127.0.0.2", password: "hijacked-password" } }) },
  "DELETE /api/data-sources/:id": { access: "admin", ok: 204 },
  "POST /api/data-sources/test-connection": {
    access: "editor",
    ok: 200,
    body: () => ({ type: PG.type, connection: sourceBody(PG).connection }),
  },
  "POST /api/data-sources/:id/test": { access: "editor", ok: 200 },

  "GET /api/webhooks": { access: "admin", ok: 200 },
  "POST /api/webhooks": { access: "admin", ok: 201, body: () => ({ url: RECEIVER_URL, events: ["*"], active: false }) },
  "GET /api/webhooks/:id": { access: "admin", ok: 200 },
  "PATCH /api/webhooks/:id": { access: "admin", ok: 200, body: () => ({ url: RECEIVER_URL, description: "Hijacked" }) },
  "DELETE /api/webhooks/:id": { access: "admin", ok: 204 },
  "POST /api/webhooks/:id/rotate-secret": { access: "admin", ok: 200 },
  "POST /api/webhooks/:id/ping": { access: "admin", ok: 202 },
  "GET /api/webhooks/:id/deliveries": { access: "admin", ok: 200 },
  "GET /api/webhooks/:id/deliveries/:deliveryId": { access: "admin", ok: 200 },
  "POST /api/webhooks/:id/deliveries/:deliveryId/redeliver": { access: "admin", ok: 202 },
};

/** Every (method, path) the app registers, middleware (ALL) entries left out. */
const REGISTERED = [...new Set(createApp().routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path}`))];

interface Route extends Entry {
  key: string;
  method: string;
  pattern: string;
}

const ROUTES: Route[] = Object.entries(MATRIX).map(([key, entry]) => {
  const [method, pattern] = key.split(" ") as [string, string];
  return { key, method, pattern, ...entry };
});
const AUTHENTICATED = ROUTES.filter((r) => r.access !== "public");
const PUBLIC = ROUTES.filter((r) => r.access === "public");
const OWNED = AUTHENTICATED.filter((r) => paramsOf(r.pattern).length > 0);
const COLLECTION = AUTHENTICATED.filter((r) => paramsOf(r.pattern).length === 0);
const WRITE = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const RANK: Record<Role, number> = { viewer: 0, editor: 1, admin: 2 };

// The figures the summary line reports: one per request whose answer is asserted.
const counts = { tenancy: 0, roles: 0, tokens: 0, sessions: 0, public: 0 };

let f: Fixture;

beforeAll(async () => {
  f = { a: await buildOrg(), b: await buildOrg() };
}, 120_000);

afterAll(() => {
  const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
  console.log(
    `security matrix: ${ROUTES.length} routes (${AUTHENTICATED.length} authenticated), ${total} checks: ` +
      `cross-tenant ${counts.tenancy}, roles ${counts.roles}, bad tokens ${counts.tokens}, ended sessions ${counts.sessions}, public ${counts.public}`,
  );
});

async function call(route: Route, path: string, as: TestUser | undefined, headers: Record<string, string> = {}): Promise<ApiResponse> {
  const body = route.body ? await route.body(f, as ?? f.a.admin) : undefined;
  return api(route.method, path, { ...(as ? { token: as.token } : {}), headers, ...(body === undefined ? {} : { body }) });
}

// Refusals come before the body is looked at: a body that is not JSON, or not well-formed,
// changes neither a 401 nor a 403.
const BAD_BODIES: Record<string, { rawBody: string; headers: Record<string, string> }> = {
  "a form body": { rawBody: "name=x&role=admin", headers: { "content-type": "application/x-www-form-urlencoded" } },
  "malformed JSON": { rawBody: '{"name":', headers: { "content-type": "application/json" } },
};

function callWithBadBody(route: Route, path: string, as: TestUser | undefined, badBody: string, headers: Record<string, string> = {}) {
  const bad = BAD_BODIES[badBody]!;
  return api(route.method, path, { ...(as ? { token: as.token } : {}), rawBody: bad.rawBody, headers: { ...headers, ...bad.headers } });
}

/** Runs `request` and asserts org A's rows are exactly as they were before it. */
async function withoutSideEffect<T>(label: string, request: () => Promise<T>): Promise<T> {
  const before = await snapshotOrg(f.a.id);
  const result = await request();
  expect((await snapshotOrg(f.a.id)).tables, `${label}: org A's rows changed`).toEqual(before.tables);
  return result;
}

describe("the matrix covers the app", () => {
  it("has an entry for every registered route and method, and none for a route that does not exist", () => {
    expect(Object.keys(MATRIX).sort()).toEqual([...REGISTERED].sort());
  });

  it("matches the roles the README's route table documents", () => {
    const documented = new Map<string, string>();
    for (const [, method, path, who] of readme.matchAll(/^\| `(GET|POST|PUT|PATCH|DELETE) (\/api\/[^`]*)` \| ([^|]+) \|/gm)) {
      documented.set(`${method} ${path}`, who!.trim().startsWith("anyone") ? "public" : who!.trim() === "member" ? "viewer" : who!.trim());
    }
    expect(Object.fromEntries(documented)).toEqual(Object.fromEntries(ROUTES.map((r) => [r.key, r.access])));
  });

  it("lets viewers write only to their own account", () => {
    const viewerWrites = AUTHENTICATED.filter((r) => WRITE.has(r.method) && r.access === "viewer").map((r) => r.key);
    expect(viewerWrites).toEqual(ROUTES.filter((r) => r.self).map((r) => r.key));
  });
});

describe("another organization's admin", () => {
  // Every way to aim at org A with B's admin: all ids A's, or (nested routes) the parent B's and
  // the child A's and the other way round.
  const aims = (pattern: string): { label: string; orgs: (g: Fixture) => Org[] }[] => {
    const n = paramsOf(pattern).length;
    const all: { label: string; orgs: (g: Fixture) => Org[] }[] = [{ label: "A's ids", orgs: (g) => [g.a] }];
    if (n === 2) {
      all.push({ label: "B's parent, A's child", orgs: (g) => [g.b, g.a] });
      all.push({ label: "A's parent, B's child", orgs: (g) => [g.a, g.b] });
    }
    return all;
  };

  it.each(OWNED.map((r) => [r.key, r] as const))("%s with org A's ids: 404 not_found, nothing of A's changed", async (_key, route) => {
    for (const aim of aims(route.pattern)) {
      const path = fillPath(route.pattern, aim.orgs(f));
      const res = await withoutSideEffect(`${route.key} (${aim.label})`, () => call(route, path, f.b.admin));
      expectError(res, 404, "not_found");
      counts.tenancy++;
    }
    // Indistinguishable from ids that exist nowhere: the same status and the same body.
    const real = await call(route, fillPath(route.pattern, [f.a]), f.b.admin);
    const nowhere = await call(route, route.pattern.replace(/:[A-Za-z]+/g, () => crypto.randomUUID()), f.b.admin);
    expect({ status: real.status, body: real.body }).toEqual({ status: nowhere.status, body: nowhere.body });
    counts.tenancy++;
    // The ids are real: B's admin on B's own resource (reads only; a write would spend it).
    if (route.method === "GET") {
      const own = await call(route, fillPath(route.pattern, [f.b]), f.b.admin);
      expect(own.status, JSON.stringify(own.body)).toBe(route.ok);
      const mine = await call(route, fillPath(route.pattern, [f.a]), f.a.admin);
      expect(mine.status, JSON.stringify(mine.body)).toBe(route.ok);
      counts.tenancy += 2;
    }
  });

  it.each(COLLECTION.map((r) => [r.key, r] as const))("%s: answers for B only, shows none of A's ids, changes nothing of A's", async (_key, route) => {
    const { ids } = await snapshotOrg(f.a.id);
    const res = await withoutSideEffect(route.key, () => call(route, route.pattern, f.b.admin));
    expect(res.status, JSON.stringify(res.body)).toBe(route.ok);
    const text = JSON.stringify(res.body ?? "");
    const leaked = [...ids].filter((id) => text.includes(id));
    expect(leaked, `${route.key} shows org A's ids`).toEqual([]);
    counts.tenancy++;
  });

  // The one id a body can name (widgets' dataSourceId): A's source is as unknown to B as a wrong id.
  it("a widget body naming A's data source: 400 on dataSourceId, nothing changed in A or B", async () => {
    const own = `/api/dashboards/${f.b.ids.dashboard}/widgets`;
    const attempts: [string, string, unknown][] = [
      ["POST", own, widgetBody({ dataSourceId: f.a.ids.dataSource, config: { query: "SELECT 1" }, y: 12 })],
      ["PATCH", `${own}/${f.b.ids.widget}`, { dataSourceId: f.a.ids.dataSource }],
    ];
    for (const [method, path, body] of attempts) {
      // B's widgets only: B's webhook deliveries may still be settling.
      const before = (await snapshotOrg(f.b.id)).tables.widgets;
      const res = await withoutSideEffect(`${method} ${path}`, () => api(method, path, { token: f.b.admin.token, body }));
      expect(expectError(res, 400, "validation_error").map((d) => d.field)).toEqual(["dataSourceId"]);
      expect((await snapshotOrg(f.b.id)).tables.widgets).toBe(before);
      counts.tenancy++;
    }
  });

  it("the public view shows a private dashboard to nobody: 404 like an id that exists nowhere", async () => {
    const nowhere = await api("GET", `/api/public/dashboards/${crypto.randomUUID()}`);
    for (const token of [undefined, f.a.admin.token, f.b.admin.token]) {
      const res = await api("GET", `/api/public/dashboards/${f.a.privateDashboardId}`, token ? { token } : {});
      expectError(res, 404, "not_found");
      expect(res.body).toEqual(nowhere.body);
      counts.tenancy++;
    }
  });

  it("the public view names nothing of A's but the dashboard and its widgets", async () => {
    const { ids } = await snapshotOrg(f.a.id);
    const res = await api("GET", `/api/public/dashboards/${f.a.ids.dashboard}`);
    expect(res.status).toBe(200);
    const own = new Set([res.body.id, ...res.body.widgets.map((w: { id: string }) => w.id)]);
    const text = JSON.stringify(res.body);
    expect([...ids].filter((id) => !own.has(id) && text.includes(id))).toEqual([]);
    counts.tenancy++;
  });

  it("lists of B with every filter show none of A's public dashboard", async () => {
    for (const query of ["", "?isPublic=true", "?q=Matrix", "?sort=name&limit=100"]) {
      const res = await api("GET", `/api/dashboards${query}`, { token: f.b.admin.token });
      expect(res.status).toBe(200);
      expect(res.body.data.map((d: { id: string }) => d.id)).not.toContain(f.a.ids.dashboard);
      counts.tenancy++;
    }
  });
});

describe("roles in the caller's own organization", () => {
  const members = (g: Fixture) => [g.a.viewer, g.a.editor, g.a.admin];

  it.each(AUTHENTICATED.map((r) => [r.key, r] as const))("%s: refused with 403 below its role, allowed at or above", async (_key, route) => {
    const min = RANK[route.access as Role];
    const path = fillPath(route.pattern, [f.a]);
    for (const member of members(f)) {
      if (RANK[member.role] < min) {
        const res = await withoutSideEffect(`${route.key} as ${member.role}`, () => call(route, path, member));
        expectError(res, 403, "forbidden");
        counts.roles++;
        if (!WRITE.has(route.method)) continue;
        for (const badBody of Object.keys(BAD_BODIES)) {
          const bad = await withoutSideEffect(`${route.key} as ${member.role} with ${badBody}`, () => callWithBadBody(route, path, member, badBody));
          expect(bad.status, `${route.key} as ${member.role} with ${badBody}: ${JSON.stringify(bad.body)}`).toBe(403);
          expectError(bad, 403, "forbidden");
          counts.roles++;
        }
      } else if (route.method === "GET" || route.self) {
        // Allowed: reads, and a viewer's own account. (Other allowed writes would spend the
        // fixture; each resource's own tests make them.)
        const res = await call(route, path, member);
        expect(res.status, `${route.key} as ${member.role}: ${JSON.stringify(res.body)}`).toBe(route.ok);
        // Connection settings (host, user, database) are for admins only.
        if (member.role !== "admin") expect(JSON.stringify(res.body), `${route.key} as ${member.role}`).not.toMatch(/"connection":\{/);
        counts.roles++;
      }
    }
  });
});

describe("bad access tokens", () => {
  it.each(AUTHENTICATED.map((r) => [r.key, r] as const))("%s: 401 unauthorized for every one, nothing changed", async (_key, route) => {
    const path = fillPath(route.pattern, [f.a]);
    for (const [attack, headers] of Object.entries(TOKEN_ATTACKS)) {
      const res = await withoutSideEffect(`${route.key} with ${attack}`, async () => call(route, path, undefined, await headers(f)));
      expect(res.status, `${route.key} with ${attack}: ${JSON.stringify(res.body)}`).toBe(401);
      expectError(res, 401, "unauthorized");
      counts.tokens++;
    }
    if (!WRITE.has(route.method)) return;
    for (const attack of ["no Authorization header", "expired"]) {
      for (const badBody of Object.keys(BAD_BODIES)) {
        const headers = await TOKEN_ATTACKS[attack]!(f);
        const res = await withoutSideEffect(`${route.key} with ${attack} and ${badBody}`, () => callWithBadBody(route, path, undefined, badBody, headers));
        expect(res.status, `${route.key} with ${attack} and ${badBody}: ${JSON.stringify(res.body)}`).toBe(401);
        expectError(res, 401, "unauthorized");
        counts.tokens++;
      }
    }
  });

  it.each(PUBLIC.map((r) => [r.key, r] as const))("%s: public, so no token, or a bad one, is not a 401", async (_key, route) => {
    const path = fillPath(route.pattern, [f.a]);
    for (const attack of ["no Authorization header", "Bearer with garbage", "expired", "alg: none", "signed with another key", "a refresh token as the access token"]) {
      const res = await call(route, path, undefined, await TOKEN_ATTACKS[attack]!(f));
      expect(res.status, `${route.key} with ${attack}: ${JSON.stringify(res.body)}`).toBe(route.ok);
      counts.public++;
    }
  });
});

describe("sessions that have ended", () => {
  /** The ended session's access token is refused on every authenticated route, without effect. */
  async function refusedEverywhere(token: string, label: string) {
    for (const route of AUTHENTICATED) {
      const path = fillPath(route.pattern, [f.a]);
      const res = await withoutSideEffect(`${route.key} ${label}`, () => call(route, path, undefined, bearer(token)));
      expect(res.status, `${route.key} ${label}: ${JSON.stringify(res.body)}`).toBe(401);
      expectError(res, 401, "unauthorized");
      counts.sessions++;
    }
  }

  async function refreshRefused(refreshToken: string) {
    expectError(await api("POST", "/api/auth/refresh-token", { body: { refreshToken } }), 401, "unauthorized");
    counts.sessions++;
  }

  /** An admin of org A, so an ended session that still worked would reach every route. */
  const newAdmin = () => addMember(f.a.admin, "admin");

  it("after logout: the refresh token and the session's access token are refused", async () => {
    const user = await newAdmin();
    expect((await api("POST", "/api/auth/logout", { body: { refreshToken: user.refreshToken } })).status).toBe(204);
    await refreshRefused(user.refreshToken);
    // Logging out again is harmless (204) and brings nothing back.
    expect((await api("POST", "/api/auth/logout", { body: { refreshToken: user.refreshToken } })).status).toBe(204);
    await refreshRefused(user.refreshToken);
    await refusedEverywhere(user.token, "after logout");
  });

  it("after a password change: the other sessions' tokens are refused, the changing one goes on", async () => {
    const user = await newAdmin();
    const other = await login(user);
    const changing = await login(user);
    const changed = await api("POST", "/api/users/me/password", {
      token: changing.accessToken,
      body: { currentPassword: user.password, newPassword: "a brand new password" },
    });
    expect(changed.status).toBe(204);
    for (const session of [{ accessToken: user.token, refreshToken: user.refreshToken }, other]) {
      await refreshRefused(session.refreshToken);
      await refusedEverywhere(session.accessToken, "after a password change elsewhere");
    }
    expect((await api("GET", "/api/users/me", { token: changing.accessToken })).status).toBe(200);
    expect((await api("POST", "/api/auth/refresh-token", { body: { refreshToken: changing.refreshToken } })).status).toBe(200);
  });

  it("after refresh-token reuse: every token of the family is refused, old and new", async () => {
    const user = await newAdmin();
    const rotated = await api("POST", "/api/auth/refresh-token", { body: { refreshToken: user.refreshToken } });
    expect(rotated.status).toBe(200);
    // The spent token comes back (a thief, or a replay): the family ends.
    await refreshRefused(user.refreshToken);
    await refreshRefused(rotated.body.refreshToken);
    await refusedEverywhere(user.token, "after reuse (first access token)");
    await refusedEverywhere(rotated.body.accessToken, "after reuse (rotated access token)");
  });

  it("after the user is deleted: their tokens are refused", async () => {
    const user = await newAdmin();
    expect((await api("DELETE", `/api/users/${user.id}`, { token: f.a.admin.token })).status).toBe(204);
    await refreshRefused(user.refreshToken);
    await refusedEverywhere(user.token, "after the user was deleted");
  });

  it("a registration's own session ends with logout too", async () => {
    const admin = await registerOrg();
    await api("POST", "/api/auth/logout", { body: { refreshToken: admin.refreshToken } });
    await refreshRefused(admin.refreshToken);
    expectError(await api("GET", "/api/users/me", { token: admin.token }), 401, "unauthorized");
    counts.sessions++;
  });
});
