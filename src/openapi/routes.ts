// The route table: every operation the Worker serves, with the very schema objects its route
// validates with and answers in. src/openapi/document.ts turns it into the OpenAPI document, a
// workerd test checks it against the Hono app's routes (both ways), and the test suite checks
// every response it sees against it. No `cloudflare:*` imports here: Node reads it too.
import { z } from "zod";
import type { Role } from "../db/schema";
import type { PolicyName } from "../lib/rate-limit";
import { loginBody, refreshTokenBody, registerBody, sessionResponse, tokenPair } from "../schemas/auth";
import { idParam } from "../schemas/common";
import {
  createDashboardBody,
  dashboardDetail,
  dashboardPage,
  dashboardResponse,
  listDashboardsQuery,
  publicDashboardResponse,
  updateDashboardBody,
} from "../schemas/dashboards";
import { connectionTestResult, testConnectionBody } from "../schemas/data-source-connection";
import { DOCS_FILES, docsFileParam } from "../schemas/docs";
import {
  createDataSourceBody,
  dataSourceDetail,
  dataSourcePage,
  dataSourceResponse,
  listDataSourcesQuery,
  updateDataSourceBody,
} from "../schemas/data-sources";
import { healthResponse } from "../schemas/health";
import { changePasswordBody, createUserBody, listUsersQuery, updateMeBody, updateUserBody, userPage, userResponse } from "../schemas/users";
import {
  createWebhookBody,
  deliveryDetail,
  deliveryPage,
  deliveryParam,
  deliveryResponse,
  listDeliveriesQuery,
  listWebhooksQuery,
  updateWebhookBody,
  webhookPage,
  webhookResponse,
  webhookWithSecret,
} from "../schemas/webhooks";
import {
  createWidgetBody,
  dashboardIdParam,
  listWidgetsQuery,
  updateWidgetBody,
  widgetDataQuery,
  widgetDataResponse,
  widgetIdParams,
  widgetPage,
  widgetResponse,
} from "../schemas/widgets";

export type Method = "get" | "post" | "patch" | "delete";

export const TAGS = {
  Health: "Liveness: the Worker and its database",
  Auth: "Sign-up, login and the token lifecycle",
  Users: "The caller, and (admins) the organization's members",
  Dashboards: "Dashboards of the caller's organization",
  Widgets: "Widgets on a dashboard, with their data",
  Public: "Tokenless, read-only views of public dashboards",
  "Data sources": "Databases widgets query, and connection tests",
  Webhooks: "Subscriptions, deliveries and their log (admins only)",
  "API document": "This document and its interactive reference",
} as const;
export type Tag = keyof typeof TAGS;

/** Response headers the document describes (src/openapi/document.ts has their components). */
export type DocumentedHeader = "ETag" | "Content-Security-Policy";
/** Conditional-request headers an operation reads. */
export type RequestHeader = "If-Match" | "If-None-Match";

export interface SuccessResponse {
  description: string;
  /** The JSON body's schema; omitted for a response without a body (204, 304) or with `media`. */
  schema?: z.ZodType;
  /** Non-JSON bodies: the media types this response comes in (the docs page and its files). */
  media?: string[];
  headers?: DocumentedHeader[];
}

export interface OperationSpec {
  method: Method;
  /** The Hono path, exactly as in `createApp().routes` (`:id` parameters). */
  path: string;
  operationId: string;
  tag: Tag;
  summary: string;
  description?: string;
  /** `bearer`: an access token is required (401 without a valid one). */
  auth: "bearer" | "public";
  /** The least role that may call it (403 below it); omitted: any member. */
  role?: Exclude<Role, "viewer">;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  requestHeaders?: RequestHeader[];
  /** Success (and 304) responses by status. */
  responses: Record<number, SuccessResponse>;
  /**
   * Error statuses besides the ones every such route has (document.ts `errorStatuses`: 400 for a
   * body or query, 401/403 for auth and roles, 404 for path parameters, 413 for POST/PATCH, 429,
   * 500, 503 for fail-closed limits).
   */
  errors?: number[];
  /** Route-specific rate-limit policies (besides the global per-user / per-IP one). */
  rateLimits?: PolicyName[];
}

export const openApiObject = z.record(z.string(), z.unknown()).describe("An OpenAPI 3.1 document: this one");

const noContent = (description: string): SuccessResponse => ({ description });

export const OPERATIONS: OperationSpec[] = [
  // ---- Health
  {
    method: "get",
    path: "/api/health",
    operationId: "getHealth",
    tag: "Health",
    summary: "Check the Worker and D1",
    description: "Runs a trivial D1 query. 503 `service_unavailable` when D1 fails.",
    auth: "public",
    responses: { 200: { description: "Up", schema: healthResponse } },
    errors: [503],
  },

  // ---- Auth
  {
    method: "post",
    path: "/api/auth/register",
    operationId: "register",
    tag: "Auth",
    summary: "Create an organization and its first admin, and sign in",
    description: "403 `forbidden` when REGISTRATION_ENABLED is false; 409 `conflict` when the email is taken.",
    auth: "public",
    body: registerBody,
    responses: { 201: { description: "The new admin's session", schema: sessionResponse } },
    errors: [403, 409],
    rateLimits: ["registerIp"],
  },
  {
    method: "post",
    path: "/api/auth/login",
    operationId: "login",
    tag: "Auth",
    summary: "Sign in with email and password",
    description: "401 `invalid_credentials` for an unknown email or a wrong password (the same answer, in the same time).",
    auth: "public",
    body: loginBody,
    responses: { 200: { description: "A new session", schema: sessionResponse } },
    errors: [401],
    rateLimits: ["loginIp", "loginEmail"],
  },
  {
    method: "post",
    path: "/api/auth/refresh-token",
    operationId: "refreshToken",
    tag: "Auth",
    summary: "Trade a refresh token for new tokens",
    description:
      "The refresh token is spent. Presenting a spent one again revokes the whole session (reuse detection). " +
      "401 `unauthorized` for an unknown, spent, revoked or expired token.",
    auth: "public",
    body: refreshTokenBody,
    responses: { 200: { description: "New access and refresh tokens", schema: tokenPair } },
    errors: [401],
  },
  {
    method: "post",
    path: "/api/auth/logout",
    operationId: "logout",
    tag: "Auth",
    summary: "End the session a refresh token belongs to",
    description: "Its refresh and access tokens stop working at once. Unknown tokens are ignored (idempotent).",
    auth: "public",
    body: refreshTokenBody,
    responses: { 204: noContent("Signed out") },
  },

  // ---- Users
  {
    method: "get",
    path: "/api/users/me",
    operationId: "getMe",
    tag: "Users",
    summary: "The caller",
    auth: "bearer",
    responses: { 200: { description: "The caller's user", schema: userResponse } },
  },
  {
    method: "patch",
    path: "/api/users/me",
    operationId: "updateMe",
    tag: "Users",
    summary: "Change the caller's names",
    auth: "bearer",
    body: updateMeBody,
    responses: { 200: { description: "The updated user", schema: userResponse } },
  },
  {
    method: "post",
    path: "/api/users/me/password",
    operationId: "changePassword",
    tag: "Users",
    summary: "Change the caller's password",
    description: "Signs out every other session of the caller. 401 `invalid_credentials` for a wrong current password.",
    auth: "bearer",
    body: changePasswordBody,
    responses: { 204: noContent("Changed") },
    errors: [401],
    rateLimits: ["passwordIp"],
  },
  {
    method: "get",
    path: "/api/users",
    operationId: "listUsers",
    tag: "Users",
    summary: "List the organization's members",
    auth: "bearer",
    role: "admin",
    query: listUsersQuery,
    responses: { 200: { description: "One page of members", schema: userPage } },
  },
  {
    method: "post",
    path: "/api/users",
    operationId: "createUser",
    tag: "Users",
    summary: "Add a member",
    description: "409 `conflict` when the email is taken.",
    auth: "bearer",
    role: "admin",
    body: createUserBody,
    responses: { 201: { description: "The new member", schema: userResponse } },
    errors: [409],
  },
  {
    method: "get",
    path: "/api/users/:id",
    operationId: "getUser",
    tag: "Users",
    summary: "One member",
    auth: "bearer",
    role: "admin",
    params: idParam,
    responses: { 200: { description: "The member", schema: userResponse } },
  },
  {
    method: "patch",
    path: "/api/users/:id",
    operationId: "updateUser",
    tag: "Users",
    summary: "Change a member's names or role",
    description: "409 `conflict` for demoting the organization's last admin.",
    auth: "bearer",
    role: "admin",
    params: idParam,
    body: updateUserBody,
    responses: { 200: { description: "The updated member", schema: userResponse } },
    errors: [409],
  },
  {
    method: "delete",
    path: "/api/users/:id",
    operationId: "deleteUser",
    tag: "Users",
    summary: "Remove a member",
    description: "409 `conflict` for the organization's last admin.",
    auth: "bearer",
    role: "admin",
    params: idParam,
    responses: { 204: noContent("Removed") },
    errors: [409],
  },

  // ---- Dashboards
  {
    method: "get",
    path: "/api/dashboards",
    operationId: "listDashboards",
    tag: "Dashboards",
    summary: "List dashboards",
    auth: "bearer",
    query: listDashboardsQuery,
    responses: { 200: { description: "One page of dashboards (without layouts)", schema: dashboardPage } },
  },
  {
    method: "post",
    path: "/api/dashboards",
    operationId: "createDashboard",
    tag: "Dashboards",
    summary: "Create a dashboard",
    auth: "bearer",
    role: "editor",
    body: createDashboardBody,
    responses: { 201: { description: "The new dashboard", schema: dashboardResponse, headers: ["ETag"] } },
  },
  {
    method: "get",
    path: "/api/dashboards/:id",
    operationId: "getDashboard",
    tag: "Dashboards",
    summary: "A dashboard with its widgets and their data",
    description:
      "Widgets come in grid order, each with its `data`; a widget whose query fails carries its own `data.error` " +
      "and the request still succeeds.",
    auth: "bearer",
    params: idParam,
    requestHeaders: ["If-None-Match"],
    responses: {
      200: { description: "The dashboard", schema: dashboardDetail, headers: ["ETag"] },
      304: { description: "Not modified: the ETag in If-None-Match is still current (no body)", headers: ["ETag"] },
    },
  },
  {
    method: "patch",
    path: "/api/dashboards/:id",
    operationId: "updateDashboard",
    tag: "Dashboards",
    summary: "Change a dashboard",
    auth: "bearer",
    role: "editor",
    params: idParam,
    body: updateDashboardBody,
    requestHeaders: ["If-Match"],
    responses: { 200: { description: "The updated dashboard", schema: dashboardResponse, headers: ["ETag"] } },
    errors: [412],
  },
  {
    method: "delete",
    path: "/api/dashboards/:id",
    operationId: "deleteDashboard",
    tag: "Dashboards",
    summary: "Delete a dashboard and its widgets",
    description: "409 `conflict` when its widgets keep changing while it is being deleted (try again).",
    auth: "bearer",
    role: "editor",
    params: idParam,
    requestHeaders: ["If-Match"],
    responses: { 204: noContent("Deleted") },
    errors: [409, 412],
  },

  // ---- Widgets
  {
    method: "get",
    path: "/api/dashboards/:dashboardId/widgets",
    operationId: "listWidgets",
    tag: "Widgets",
    summary: "List a dashboard's widgets",
    description: "In grid order (top to bottom, left to right), each with its `data`.",
    auth: "bearer",
    params: dashboardIdParam,
    query: listWidgetsQuery,
    responses: { 200: { description: "One page of widgets", schema: widgetPage } },
  },
  {
    method: "post",
    path: "/api/dashboards/:dashboardId/widgets",
    operationId: "createWidget",
    tag: "Widgets",
    summary: "Add a widget to a dashboard",
    description: "`x + width` must be at most 12 (the grid's columns); `dataSourceId` must be a source of the caller's organization or the sample.",
    auth: "bearer",
    role: "editor",
    params: dashboardIdParam,
    body: createWidgetBody,
    responses: { 201: { description: "The new widget", schema: widgetResponse } },
  },
  {
    method: "get",
    path: "/api/dashboards/:dashboardId/widgets/:id",
    operationId: "getWidget",
    tag: "Widgets",
    summary: "One widget, with its data",
    auth: "bearer",
    params: widgetIdParams,
    responses: { 200: { description: "The widget", schema: widgetResponse } },
  },
  {
    method: "get",
    path: "/api/dashboards/:dashboardId/widgets/:id/data",
    operationId: "getWidgetData",
    tag: "Widgets",
    summary: "A widget's query result",
    description: "From the cache when a fresh entry exists; `refresh=true` runs the query now (and caches the result).",
    auth: "bearer",
    params: widgetIdParams,
    query: widgetDataQuery,
    responses: { 200: { description: "The widget's data", schema: widgetDataResponse } },
  },
  {
    method: "patch",
    path: "/api/dashboards/:dashboardId/widgets/:id",
    operationId: "updateWidget",
    tag: "Widgets",
    summary: "Change a widget",
    auth: "bearer",
    role: "editor",
    params: widgetIdParams,
    body: updateWidgetBody,
    responses: { 200: { description: "The updated widget", schema: widgetResponse } },
  },
  {
    method: "delete",
    path: "/api/dashboards/:dashboardId/widgets/:id",
    operationId: "deleteWidget",
    tag: "Widgets",
    summary: "Delete a widget",
    auth: "bearer",
    role: "editor",
    params: widgetIdParams,
    responses: { 204: noContent("Deleted") },
  },

  // ---- Public dashboards
  {
    method: "get",
    path: "/api/public/dashboards/:id",
    operationId: "getPublicDashboard",
    tag: "Public",
    summary: "A public dashboard, without a token",
    description: "Read-only, with data; no user ids, data-source ids or widget SQL. A private or unknown id is the same 404.",
    auth: "public",
    params: idParam,
    responses: { 200: { description: "The dashboard", schema: publicDashboardResponse } },
  },

  // ---- Data sources
  {
    method: "get",
    path: "/api/data-sources",
    operationId: "listDataSources",
    tag: "Data sources",
    summary: "List data sources",
    description: "The built-in sample source comes first on the first page (and counts in `total`).",
    auth: "bearer",
    query: listDataSourcesQuery,
    responses: { 200: { description: "One page of data sources", schema: dataSourcePage } },
  },
  {
    method: "post",
    path: "/api/data-sources",
    operationId: "createDataSource",
    tag: "Data sources",
    summary: "Add a data source",
    description: "The password is stored encrypted and never returned.",
    auth: "bearer",
    role: "admin",
    body: createDataSourceBody,
    responses: { 201: { description: "The new data source", schema: dataSourceResponse } },
  },
  {
    method: "get",
    path: "/api/data-sources/:id",
    operationId: "getDataSource",
    tag: "Data sources",
    summary: "One data source, with its connection (no password)",
    auth: "bearer",
    role: "admin",
    params: idParam,
    responses: { 200: { description: "The data source (the sample has `connection: null`)", schema: dataSourceDetail } },
  },
  {
    method: "patch",
    path: "/api/data-sources/:id",
    operationId: "updateDataSource",
    tag: "Data sources",
    summary: "Change a data source",
    description:
      "An omitted password is kept, `null` removes it. Moving a stored password to another host, port, database, " +
      "username or type requires sending it again (400). The sample source is read-only (403).",
    auth: "bearer",
    role: "admin",
    params: idParam,
    body: updateDataSourceBody,
    responses: { 200: { description: "The updated data source", schema: dataSourceResponse } },
  },
  {
    method: "delete",
    path: "/api/data-sources/:id",
    operationId: "deleteDataSource",
    tag: "Data sources",
    summary: "Delete a data source",
    description: "409 `conflict` while widgets use it; the sample source is read-only (403).",
    auth: "bearer",
    role: "admin",
    params: idParam,
    responses: { 204: noContent("Deleted") },
    errors: [409],
  },
  {
    method: "post",
    path: "/api/data-sources/test-connection",
    operationId: "testConnection",
    tag: "Data sources",
    summary: "Test connection settings (nothing stored)",
    description: "Opens a real connection and reads the server version. A failed connection is a successful test: 200 with `success: false`.",
    auth: "bearer",
    role: "editor",
    body: testConnectionBody,
    responses: { 200: { description: "The test's outcome", schema: connectionTestResult } },
    rateLimits: ["dataSourceTestOrg"],
  },
  {
    method: "post",
    path: "/api/data-sources/:id/test",
    operationId: "testDataSource",
    tag: "Data sources",
    summary: "Test a saved data source with its stored credentials",
    auth: "bearer",
    role: "editor",
    params: idParam,
    responses: { 200: { description: "The test's outcome", schema: connectionTestResult } },
    rateLimits: ["dataSourceTestOrg"],
  },

  // ---- Webhooks
  {
    method: "get",
    path: "/api/webhooks",
    operationId: "listWebhooks",
    tag: "Webhooks",
    summary: "List webhook subscriptions (no secrets)",
    auth: "bearer",
    role: "admin",
    query: listWebhooksQuery,
    responses: { 200: { description: "One page of subscriptions, newest first", schema: webhookPage } },
  },
  {
    method: "post",
    path: "/api/webhooks",
    operationId: "createWebhook",
    tag: "Webhooks",
    summary: "Subscribe a URL to events",
    description: "The answer is the only time the signing secret is shown. The URL must be https to a public host.",
    auth: "bearer",
    role: "admin",
    body: createWebhookBody,
    responses: { 201: { description: "The subscription and its secret", schema: webhookWithSecret } },
  },
  {
    method: "get",
    path: "/api/webhooks/:id",
    operationId: "getWebhook",
    tag: "Webhooks",
    summary: "One subscription",
    auth: "bearer",
    role: "admin",
    params: idParam,
    responses: { 200: { description: "The subscription", schema: webhookResponse } },
  },
  {
    method: "patch",
    path: "/api/webhooks/:id",
    operationId: "updateWebhook",
    tag: "Webhooks",
    summary: "Change a subscription",
    description: "Setting `active` either way resets `consecutiveFailures` and clears `disabledReason`.",
    auth: "bearer",
    role: "admin",
    params: idParam,
    body: updateWebhookBody,
    responses: { 200: { description: "The updated subscription", schema: webhookResponse } },
  },
  {
    method: "delete",
    path: "/api/webhooks/:id",
    operationId: "deleteWebhook",
    tag: "Webhooks",
    summary: "Delete a subscription and its delivery log",
    auth: "bearer",
    role: "admin",
    params: idParam,
    responses: { 204: noContent("Deleted") },
  },
  {
    method: "post",
    path: "/api/webhooks/:id/rotate-secret",
    operationId: "rotateWebhookSecret",
    tag: "Webhooks",
    summary: "Replace the signing secret",
    description: "The replaced secret keeps signing beside the new one for 24 hours (two signatures per delivery).",
    auth: "bearer",
    role: "admin",
    params: idParam,
    responses: { 200: { description: "The subscription and its new secret", schema: webhookWithSecret } },
  },
  {
    method: "post",
    path: "/api/webhooks/:id/ping",
    operationId: "pingWebhook",
    tag: "Webhooks",
    summary: "Queue a webhook.ping delivery",
    description: "409 `conflict` when the subscription is disabled.",
    auth: "bearer",
    role: "admin",
    params: idParam,
    responses: { 202: { description: "The queued delivery", schema: deliveryResponse } },
    errors: [409],
  },
  {
    method: "get",
    path: "/api/webhooks/:id/deliveries",
    operationId: "listDeliveries",
    tag: "Webhooks",
    summary: "A subscription's delivery log",
    auth: "bearer",
    role: "admin",
    params: idParam,
    query: listDeliveriesQuery,
    responses: { 200: { description: "One page of deliveries, newest first", schema: deliveryPage } },
  },
  {
    method: "get",
    path: "/api/webhooks/:id/deliveries/:deliveryId",
    operationId: "getDelivery",
    tag: "Webhooks",
    summary: "One delivery, with its payload and every attempt",
    auth: "bearer",
    role: "admin",
    params: deliveryParam,
    responses: { 200: { description: "The delivery", schema: deliveryDetail } },
  },
  {
    method: "post",
    path: "/api/webhooks/:id/deliveries/:deliveryId/redeliver",
    operationId: "redeliver",
    tag: "Webhooks",
    summary: "Send a delivery again",
    description: "Makes it pending and due now, whatever its state. 409 `conflict` when the subscription is disabled.",
    auth: "bearer",
    role: "admin",
    params: deliveryParam,
    responses: { 202: { description: "The delivery, pending again", schema: deliveryResponse } },
    errors: [409],
  },

  // ---- This document
  {
    method: "get",
    path: "/api/openapi.json",
    operationId: "getOpenApiDocument",
    tag: "API document",
    summary: "This OpenAPI 3.1 document",
    auth: "public",
    responses: { 200: { description: "The document", schema: openApiObject } },
  },
  {
    method: "get",
    path: "/api/docs",
    operationId: "getDocsPage",
    tag: "API document",
    summary: "The interactive API reference (HTML)",
    auth: "public",
    responses: {
      200: { description: "The reference page", media: ["text/html"], headers: ["Content-Security-Policy"] },
    },
  },
  {
    method: "get",
    path: "/api/docs/:file",
    operationId: "getDocsAsset",
    tag: "API document",
    summary: "A script, style sheet or image of the reference page",
    auth: "public",
    params: docsFileParam,
    responses: {
      200: {
        description: "The file",
        media: [...new Set(Object.values(DOCS_FILES))],
        headers: ["Content-Security-Policy"],
      },
    },
  },
];
