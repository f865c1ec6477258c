// The world the security matrix (test/security-matrix.test.ts) attacks: two organizations, each
// with an admin, an editor and a viewer and one of every resource (a public dashboard with a
// widget on a real PostgreSQL source and one on the sample source, a webhook subscription with a
// delivered ping), plus the forged and broken access tokens a hostile client would try.
import { env } from "cloudflare:test";
import { base64url, decodeJwt, SignJWT, UnsecuredJWT, type JWTPayload } from "jose";
import { expect } from "vitest";
import { SAMPLE_DATA_SOURCE_ID } from "../src/services/sample-source";
import { newDashboard, newWidget } from "./crud-helpers";
import { snapshotOrg } from "./db-snapshot";
import { PG, sourceBody } from "./db-targets";
import { addMember, api, registerOrg, type TestUser } from "./helpers";
import { subscribe, waitForStatus } from "./webhook-helpers";

export type Resource = "user" | "dashboard" | "widget" | "dataSource" | "webhook" | "delivery" | "docsFile";

export interface Org {
  id: string;
  admin: TestUser;
  editor: TestUser;
  viewer: TestUser;
  /** One of each resource; `user` is the viewer (the member admins manage). */
  ids: Record<Resource, string>;
  /** A dashboard that is not public (`ids.dashboard` is). */
  privateDashboardId: string;
}

export interface Fixture {
  a: Org;
  b: Org;
}

async function organizationOf(user: TestUser): Promise<string> {
  const row = await env.DB.prepare("SELECT organization_id AS org FROM users WHERE id = ?").bind(user.id).first<{ org: string }>();
  return row!.org;
}

/** Resolves once two snapshots in a row agree: nothing (e.g. the webhook consumer) still writes. */
async function settled(organizationId: string): Promise<void> {
  let previous = await snapshotOrg(organizationId);
  for (let i = 0; i < 50; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const next = await snapshotOrg(organizationId);
    if (JSON.stringify(next.tables) === JSON.stringify(previous.tables)) return;
    previous = next;
  }
  throw new Error("the organization's rows kept changing");
}

export async function buildOrg(): Promise<Org> {
  const admin = await registerOrg();
  const editor = await addMember(admin, "editor");
  const viewer = await addMember(admin, "viewer");
  const source = await api("POST", "/api/data-sources", { token: admin.token, body: sourceBody(PG, "Matrix PostgreSQL") });
  expect(source.status, JSON.stringify(source.body)).toBe(201);
  const dashboard = await newDashboard(admin, { name: "Matrix", isPublic: true });
  const widget = await newWidget(admin, dashboard.id, { type: "table", dataSourceId: source.body.id, config: { query: "SELECT 1 AS one" } });
  await newWidget(admin, dashboard.id, { type: "metric", dataSourceId: SAMPLE_DATA_SOURCE_ID, config: { query: "SELECT 1 AS one" }, y: 4 });
  const privateDashboard = await newDashboard(editor, { name: "Matrix private" });
  // Subscribed after the dashboard changes, so its one delivery is the ping, delivered for real.
  const sub = await subscribe(admin);
  const ping = await api("POST", `/api/webhooks/${sub.id}/ping`, { token: admin.token });
  expect(ping.status, JSON.stringify(ping.body)).toBe(202);
  await waitForStatus(admin, sub.id, ping.body.id, "succeeded");
  const id = await organizationOf(admin);
  await settled(id);
  return {
    id,
    admin,
    editor,
    viewer,
    ids: {
      user: viewer.id,
      dashboard: dashboard.id,
      widget: widget.id,
      dataSource: source.body.id,
      webhook: sub.id,
      delivery: ping.body.id,
      // A file of the API reference page (GET /api/docs/:file), the same for everyone.
      docsFile: "docs.js",
    },
    privateDashboardId: privateDashboard.id,
  };
}

// ---- Paths: every `:param` names its resource by the segment before it.

const RESOURCE_OF_SEGMENT: Record<string, Resource> = {
  users: "user",
  dashboards: "dashboard",
  widgets: "widget",
  "data-sources": "dataSource",
  webhooks: "webhook",
  deliveries: "delivery",
  docs: "docsFile",
};

/** The resources a route pattern's parameters stand for, in order. */
export function paramsOf(pattern: string): Resource[] {
  const segments = pattern.split("/");
  return segments.flatMap((segment, i) => {
    if (!segment.startsWith(":")) return [];
    const resource = RESOURCE_OF_SEGMENT[segments[i - 1]!];
    if (!resource) throw new Error(`security matrix: no resource for ${segment} in ${pattern}; add it to RESOURCE_OF_SEGMENT`);
    return [resource];
  });
}

/** The pattern with its parameters filled from `orgs[i]` (one org per parameter, in order). */
export function fillPath(pattern: string, orgs: Org[]): string {
  let i = 0;
  const resources = paramsOf(pattern);
  return pattern.replace(/:[A-Za-z]+/g, () => {
    const org = orgs[Math.min(i, orgs.length - 1)]!;
    return org.ids[resources[i++]!];
  });
}

// ---- Tokens

const SECRET = new TextEncoder().encode(env.JWT_SECRET);
const OTHER_KEY = new TextEncoder().encode("not-the-edgeboard-key-0123456789abcdef0123456789abcdef");

const sign = (payload: JWTPayload, key = SECRET, alg = "HS256") => new SignJWT(payload).setProtectedHeader({ alg, typ: "JWT" }).sign(key);

/** The token's header and signature with a changed payload. */
function tamper(token: string, changes: JWTPayload): string {
  const [header, payload, signature] = token.split(".");
  const claims = { ...JSON.parse(new TextDecoder().decode(base64url.decode(payload!))), ...changes };
  return `${header}.${base64url.encode(JSON.stringify(claims))}.${signature}`;
}

const without = (payload: JWTPayload, claim: string) => Object.fromEntries(Object.entries(payload).filter(([k]) => k !== claim));

/**
 * Every way to present a bad access token, each built around org A's admin (the most a forgery
 * could win). Each must answer 401 `unauthorized` on every authenticated route.
 */
export const TOKEN_ATTACKS: Record<string, (f: Fixture) => Promise<Record<string, string>>> = {
  "no Authorization header": async () => ({}),
  "Bearer with garbage": async () => ({ authorization: "Bearer garbage" }),
  "a valid token without the Bearer scheme": async (f) => ({ authorization: f.a.admin.token }),
  "a valid token under another scheme": async (f) => ({ authorization: `Basic ${f.a.admin.token}` }),
  expired: async (f) => {
    const now = Math.floor(Date.now() / 1000);
    return bearer(await sign({ ...decodeJwt(f.a.admin.token), iat: now - 7200, exp: now - 3600 }));
  },
  "alg: none": async (f) => bearer(new UnsecuredJWT(decodeJwt(f.a.admin.token)).encode()),
  "alg: none with the real signature kept": async (f) => {
    const [, payload, signature] = f.a.admin.token.split(".");
    return bearer(`${base64url.encode(JSON.stringify({ alg: "none", typ: "JWT" }))}.${payload}.${signature}`);
  },
  "signed with another key": async (f) => bearer(await sign(decodeJwt(f.a.admin.token), OTHER_KEY)),
  "HS512 with the right key": async (f) => bearer(await sign(decodeJwt(f.a.admin.token), SECRET, "HS512")),
  "role raised in the payload, signature kept": async (f) => bearer(tamper(f.a.viewer.token, { role: "admin" })),
  "organization switched in the payload, signature kept": async (f) => bearer(tamper(f.b.admin.token, { org: f.a.id })),
  "subject switched in the payload, signature kept": async (f) => bearer(tamper(f.a.viewer.token, { sub: f.a.admin.id })),
  "signature stripped": async (f) => bearer(f.a.admin.token.split(".").slice(0, 2).join(".") + "."),
  "wrong issuer": async (f) => bearer(await sign({ ...decodeJwt(f.a.admin.token), iss: "not-edgeboard" })),
  "wrong audience": async (f) => bearer(await sign({ ...decodeJwt(f.a.admin.token), aud: "not-edgeboard-api" })),
  "no expiry": async (f) => bearer(await sign(without(decodeJwt(f.a.admin.token), "exp"))),
  "well-signed, no session claim": async (f) => bearer(await sign(without(decodeJwt(f.a.admin.token), "sid"))),
  "well-signed, another user's session": async (f) => bearer(await sign({ ...decodeJwt(f.a.admin.token), sid: decodeJwt(f.a.viewer.token).sid })),
  "well-signed, the user in another organization": async (f) => bearer(await sign({ ...decodeJwt(f.b.admin.token), org: f.a.id })),
  "well-signed, a user that does not exist": async (f) => bearer(await sign({ ...decodeJwt(f.a.admin.token), sub: crypto.randomUUID() })),
  "a refresh token as the access token": async (f) => bearer(f.a.admin.refreshToken),
};

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** A fresh login session for `user` (its access and refresh token). */
export async function login(user: TestUser): Promise<{ accessToken: string; refreshToken: string }> {
  const res = await api("POST", "/api/auth/login", { body: { email: user.email, password: user.password } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}
