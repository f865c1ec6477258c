// Every route the app registers, with what the fuzz needs to attack it: the ids its path takes,
// who may call it, a valid example body and query (from src/schemas/*.ts and the spec), and the
// statuses a well-formed request may get. test/fuzz-api.test.ts checks this table against
// createApp().routes, so a new route without an entry here fails the suite.
import type { Role } from "../../src/db/schema";
import { api, type ApiResponse, type TestUser } from "../helpers";
import { settleDelivery } from "./world";

export type IdKind = "dashboard" | "widget" | "dataSource" | "webhook" | "delivery" | "user";

/** What a route's world must hold before it is fuzzed. */
export type Need = IdKind | "session";

/** One organization, built afresh for each route, whose admin is the fuzz's caller. */
export interface World {
  admin: TestUser;
  ids: Partial<Record<IdKind, string>>;
  /** A second login session of the admin, for refresh/logout (so the caller's own session survives). */
  session?: { refreshToken: string };
  /** A fresh address for register / create-user examples. */
  freshEmail: string;
  /** A URL on the test receiver that answers 200 (webhook examples). */
  sinkUrl: string;
  /** 127.0.0.1 port with nothing listening: connection tests fail fast, never leave the machine. */
  closedPort: number;
}

export interface QuerySpec {
  paginated?: boolean;
  sort?: readonly string[];
  booleans?: readonly string[];
  enums?: Readonly<Record<string, readonly string[]>>;
  search?: readonly string[];
}

export interface RouteSpec {
  method: "GET" | "POST" | "PATCH" | "DELETE";
  path: string;
  /** Requires a bearer token. */
  auth: boolean;
  /** The lowest role allowed (checked before path ids are looked at). */
  role: Role;
  params: Readonly<Record<string, IdKind>>;
  needs: readonly Need[];
  /** The route reads a JSON body (has a `json` validator): a valid example of it. */
  body?: (w: World) => Record<string, unknown>;
  /** Dotted paths into the body that also accept null. */
  nullable?: readonly string[];
  /** Dotted paths of fields that reference another resource, and its kind (set to real ids by the fuzz). */
  idFields?: Readonly<Record<string, IdKind>>;
  /** Dotted paths of free-form JSON subtrees (layout, config): any value inside may be valid. */
  free?: readonly string[];
  query?: QuerySpec;
  /** A valid query the example uses (a filter that matches, say). */
  exampleQuery?: Readonly<Record<string, string>>;
  /** Statuses a request may get once it is past auth, role, id format and validation. */
  domain: readonly number[];
  /** Relative share of the generated cases (slow PBKDF2 routes get less). */
  weight: number;
  /** Runs after a 2xx answer: keeps the world safe to fuzz (e.g. a webhook URL back on the receiver). */
  afterSuccess?: (w: World, res: ApiResponse, route: RouteSpec) => Promise<void>;
  /** Tokenless and organization-blind (public dashboards): another tenant's id is as real as one's own. */
  tenantless?: boolean;
  /** Runs the real connection test against `connection.host`: only loopback hosts may be sent. */
  connects?: boolean;
  /**
   * The organization the route is fuzzed in (each route still gets its own resources there).
   * Routes that could spoil a shared caller get their own: member management (could demote or
   * delete the admin), the password change (ends the admin's other sessions), and webhooks (a
   * dashboard write elsewhere in the org would queue deliveries to them in the background).
   */
  org: "general" | "members" | "password" | "webhooks";
}

const PASSWORD = "correct horse battery";
const page = { paginated: true } as const;
const dashboardBody = () => ({ name: "Fuzz Dashboard", description: "Monthly sales overview", isPublic: false, layout: { grid: { columns: 12 }, theme: "dark" } });
const widgetBody = (w: World) => ({
  type: "line_chart",
  title: "Monthly Sales",
  config: { color: "blue", legend: { show: true } },
  dataSourceId: w.ids.dataSource ?? null,
  x: 0,
  y: 0,
  width: 6,
  height: 4,
});
const connection = (w: World) => ({ host: "127.0.0.1", port: w.closedPort, database: "mydb", username: "user", password: "s3cret-Pa55word", ssl: "disable" });
const webhookBody = (w: World) => ({ url: w.sinkUrl, events: ["dashboard.created", "widget.updated"], description: "Fuzz receiver", active: true });

/** A ping or redeliver queued a delivery: send it now, so no background attempt writes during a later case. */
const settle = async (_w: World, res: ApiResponse) => settleDelivery(res.body.id);

/** A PATCH may point the subscription anywhere: put it back on the receiver so a later ping stays on this machine. */
const backOnTheReceiver = async (w: World, res: ApiResponse) => {
  if (res.body.url === w.sinkUrl) return;
  const restored = await api("PATCH", `/api/webhooks/${res.body.id}`, { token: w.admin.token, body: { url: w.sinkUrl } });
  if (restored.status !== 200) throw new Error(`could not restore the webhook URL: ${restored.status}`);
};

const R = (spec: Omit<RouteSpec, "params" | "needs" | "org"> & Partial<Pick<RouteSpec, "params" | "needs" | "org">>): RouteSpec => ({
  params: {},
  needs: [],
  org: spec.path.startsWith("/api/webhooks") ? "webhooks" : "general",
  ...spec,
});

const dash = { dashboardId: "dashboard" } as const;
const widget = { dashboardId: "dashboard", id: "widget" } as const;
const source = { id: "dataSource" } as const;
const hook = { id: "webhook" } as const;
const delivery = { id: "webhook", deliveryId: "delivery" } as const;

export const ROUTES: readonly RouteSpec[] = [
  R({ method: "GET", path: "/api/health", auth: false, role: "viewer", domain: [200], weight: 0.5 }),
  // The API document and the docs page (public, no input but the file name).
  R({ method: "GET", path: "/api/openapi.json", auth: false, role: "viewer", domain: [200], weight: 0.2 }),
  R({ method: "GET", path: "/api/docs", auth: false, role: "viewer", domain: [200], weight: 0.2 }),
  R({ method: "GET", path: "/api/docs/:file", auth: false, role: "viewer", domain: [200, 404], weight: 0.2 }),

  // ---- auth (PBKDF2 on every validated login/register: few cases)
  R({
    method: "POST",
    path: "/api/auth/register",
    auth: false,
    role: "viewer",
    body: (w) => ({ email: w.freshEmail, password: PASSWORD, firstName: "Ada", lastName: "Lovelace", organizationName: "Fuzz Org" }),
    domain: [201, 409],
    weight: 0.35,
  }),
  R({
    method: "POST",
    path: "/api/auth/login",
    auth: false,
    role: "viewer",
    body: (w) => ({ email: w.admin.email, password: w.admin.password }),
    domain: [200, 401],
    weight: 0.35,
  }),
  R({
    method: "POST",
    path: "/api/auth/refresh-token",
    auth: false,
    role: "viewer",
    needs: ["session"],
    body: (w) => ({ refreshToken: w.session!.refreshToken }),
    domain: [200, 401],
    weight: 1,
    // Rotation: the next example sends the new token, never the spent one (reuse revokes the family).
    afterSuccess: async (w, res) => {
      w.session!.refreshToken = res.body.refreshToken;
    },
  }),
  R({
    method: "POST",
    path: "/api/auth/logout",
    auth: false,
    role: "viewer",
    needs: ["session"],
    body: (w) => ({ refreshToken: w.session!.refreshToken }),
    domain: [204],
    weight: 1,
  }),

  // ---- users
  R({ method: "GET", path: "/api/users/me", auth: true, role: "viewer", domain: [200], weight: 1 }),
  R({ method: "PATCH", path: "/api/users/me", auth: true, role: "viewer", body: () => ({ firstName: "Grace", lastName: "Hopper" }), domain: [200], weight: 1 }),
  R({
    method: "POST",
    path: "/api/users/me/password",
    org: "password",
    auth: true,
    role: "viewer",
    // The same password again: a success leaves the example valid for the next case.
    body: (w) => ({ currentPassword: w.admin.password, newPassword: w.admin.password }),
    domain: [204, 401],
    weight: 0.3,
  }),
  R({
    method: "GET",
    path: "/api/users", org: "members",
    auth: true,
    role: "admin",
    query: { ...page, sort: ["email", "createdAt", "updatedAt"], enums: { role: ["admin", "editor", "viewer"] } },
    exampleQuery: { page: "1", limit: "20", sort: "-createdAt", role: "editor" },
    domain: [200],
    weight: 1,
  }),
  R({
    method: "POST",
    path: "/api/users", org: "members",
    auth: true,
    role: "admin",
    body: (w) => ({ email: w.freshEmail, password: PASSWORD, firstName: "New", lastName: "Member", role: "viewer" }),
    domain: [201, 409],
    weight: 0.6,
  }),
  R({ method: "GET", path: "/api/users/:id", org: "members", auth: true, role: "admin", params: { id: "user" }, needs: ["user"], domain: [200, 404], weight: 1 }),
  R({
    method: "PATCH",
    path: "/api/users/:id", org: "members",
    auth: true,
    role: "admin",
    params: { id: "user" },
    needs: ["user"],
    body: () => ({ firstName: "Renamed", lastName: "Member", role: "editor" }),
    domain: [200, 404, 409],
    weight: 1,
  }),
  R({ method: "DELETE", path: "/api/users/:id", org: "members", auth: true, role: "admin", params: { id: "user" }, needs: ["user"], domain: [204, 404, 409], weight: 0.7 }),

  // ---- dashboards
  R({
    method: "GET",
    path: "/api/dashboards",
    auth: true,
    role: "viewer",
    needs: ["dashboard"],
    query: { ...page, sort: ["name", "createdAt", "updatedAt"], booleans: ["isPublic"], search: ["q"] },
    exampleQuery: { page: "1", limit: "20", sort: "-createdAt", isPublic: "false", q: "Fuzz" },
    domain: [200],
    weight: 1.2,
  }),
  R({ method: "POST", path: "/api/dashboards", auth: true, role: "editor", body: dashboardBody, nullable: ["description"], free: ["layout"], domain: [201], weight: 1.5 }),
  R({ method: "GET", path: "/api/dashboards/:id", auth: true, role: "viewer", params: { id: "dashboard" }, needs: ["widget"], domain: [200, 404], weight: 1 }),
  R({
    method: "PATCH",
    path: "/api/dashboards/:id",
    auth: true,
    role: "editor",
    params: { id: "dashboard" },
    needs: ["dashboard"],
    body: dashboardBody,
    nullable: ["description"],
    free: ["layout"],
    domain: [200, 404],
    weight: 1.5,
  }),
  R({ method: "DELETE", path: "/api/dashboards/:id", auth: true, role: "editor", params: { id: "dashboard" }, needs: ["widget"], domain: [204, 404], weight: 0.7 }),
  R({ method: "GET", path: "/api/public/dashboards/:id", auth: false, tenantless: true, role: "viewer", params: { id: "dashboard" }, needs: ["widget"], domain: [200, 404], weight: 1 }),

  // ---- widgets
  R({
    method: "GET",
    path: "/api/dashboards/:dashboardId/widgets",
    auth: true,
    role: "viewer",
    params: dash,
    needs: ["widget"],
    query: page,
    exampleQuery: { page: "1", limit: "10" },
    domain: [200, 404],
    weight: 1,
  }),
  R({
    method: "POST",
    path: "/api/dashboards/:dashboardId/widgets",
    auth: true,
    role: "editor",
    params: dash,
    needs: ["dashboard", "dataSource"],
    body: widgetBody,
    nullable: ["dataSourceId"],
    idFields: { dataSourceId: "dataSource" },
    free: ["config"],
    domain: [201, 400, 404],
    weight: 1.5,
  }),
  R({ method: "GET", path: "/api/dashboards/:dashboardId/widgets/:id", auth: true, role: "viewer", params: widget, needs: ["widget"], domain: [200, 404], weight: 1 }),
  R({
    method: "GET",
    path: "/api/dashboards/:dashboardId/widgets/:id/data",
    auth: true,
    role: "viewer",
    params: widget,
    needs: ["widget"],
    query: { booleans: ["refresh"] },
    exampleQuery: { refresh: "true" },
    domain: [200, 404],
    weight: 1,
  }),
  R({
    method: "PATCH",
    path: "/api/dashboards/:dashboardId/widgets/:id",
    auth: true,
    role: "editor",
    params: widget,
    needs: ["widget", "dataSource"],
    body: widgetBody,
    nullable: ["dataSourceId"],
    idFields: { dataSourceId: "dataSource" },
    free: ["config"],
    domain: [200, 400, 404],
    weight: 1.5,
  }),
  R({ method: "DELETE", path: "/api/dashboards/:dashboardId/widgets/:id", auth: true, role: "editor", params: widget, needs: ["widget"], domain: [204, 404], weight: 0.7 }),

  // ---- data sources
  R({
    method: "POST",
    path: "/api/data-sources/test-connection",
    auth: true,
    role: "editor",
    body: (w) => ({ type: "postgresql", connection: connection(w) }),
    domain: [200],
    weight: 1,
    connects: true,
  }),
  R({ method: "POST", path: "/api/data-sources/:id/test", auth: true, role: "editor", params: source, needs: ["dataSource"], domain: [200, 404], weight: 0.7 }),
  R({
    method: "GET",
    path: "/api/data-sources",
    auth: true,
    role: "viewer",
    needs: ["dataSource"],
    query: { ...page, sort: ["name", "createdAt", "updatedAt"], enums: { type: ["postgresql", "mysql", "sample"] }, search: ["q"] },
    exampleQuery: { page: "1", limit: "5", sort: "name", type: "postgresql", q: "Fuzz" },
    domain: [200],
    weight: 1,
  }),
  R({
    method: "POST",
    path: "/api/data-sources",
    auth: true,
    role: "admin",
    body: (w) => ({ name: "Fuzz PostgreSQL", type: "postgresql", connection: connection(w) }),
    nullable: ["connection.password"],
    domain: [201],
    weight: 1.2,
  }),
  R({ method: "GET", path: "/api/data-sources/:id", auth: true, role: "admin", params: source, needs: ["dataSource"], domain: [200, 404], weight: 1 }),
  R({
    method: "PATCH",
    path: "/api/data-sources/:id",
    auth: true,
    role: "admin",
    params: source,
    needs: ["dataSource"],
    body: (w) => ({ name: "Renamed Source", type: "postgresql", connection: connection(w) }),
    nullable: ["connection.password"],
    domain: [200, 400, 403, 404],
    weight: 1.2,
  }),
  R({ method: "DELETE", path: "/api/data-sources/:id", auth: true, role: "admin", params: source, needs: ["widget"], domain: [204, 403, 404, 409], weight: 0.7 }),

  // ---- webhooks
  R({
    method: "GET",
    path: "/api/webhooks",
    auth: true,
    role: "admin",
    needs: ["webhook"],
    query: page,
    exampleQuery: { page: "1", limit: "20" },
    domain: [200],
    weight: 1,
  }),
  R({
    method: "POST",
    path: "/api/webhooks",
    auth: true,
    role: "admin",
    body: webhookBody,
    nullable: ["description"],
    domain: [201, 400],
    weight: 1.2,
  }),
  R({ method: "GET", path: "/api/webhooks/:id", auth: true, role: "admin", params: hook, needs: ["webhook"], domain: [200, 404], weight: 1 }),
  R({
    method: "PATCH",
    path: "/api/webhooks/:id",
    auth: true,
    role: "admin",
    params: hook,
    needs: ["webhook"],
    body: webhookBody,
    nullable: ["description"],
    domain: [200, 400, 404],
    weight: 1.2,
    afterSuccess: backOnTheReceiver,
  }),
  R({ method: "DELETE", path: "/api/webhooks/:id", auth: true, role: "admin", params: hook, needs: ["webhook"], domain: [204, 404], weight: 0.7 }),
  R({ method: "POST", path: "/api/webhooks/:id/rotate-secret", auth: true, role: "admin", params: hook, needs: ["webhook"], domain: [200, 404], weight: 0.8 }),
  R({ method: "POST", path: "/api/webhooks/:id/ping", auth: true, role: "admin", params: hook, needs: ["webhook"], domain: [202, 404, 409], weight: 0.8, afterSuccess: settle }),
  R({
    method: "GET",
    path: "/api/webhooks/:id/deliveries",
    auth: true,
    role: "admin",
    params: hook,
    needs: ["delivery"],
    query: { ...page, enums: { status: ["pending", "succeeded", "failed"] } },
    exampleQuery: { page: "1", limit: "20", status: "succeeded" },
    domain: [200, 404],
    weight: 1,
  }),
  R({ method: "GET", path: "/api/webhooks/:id/deliveries/:deliveryId", auth: true, role: "admin", params: delivery, needs: ["delivery"], domain: [200, 404], weight: 1 }),
  R({
    method: "POST",
    path: "/api/webhooks/:id/deliveries/:deliveryId/redeliver",
    auth: true,
    role: "admin",
    params: delivery,
    needs: ["delivery"],
    domain: [202, 404, 409],
    weight: 0.8,
    afterSuccess: settle,
  }),
];

export const routeKey = (r: { method: string; path: string }) => `${r.method} ${r.path}`;
