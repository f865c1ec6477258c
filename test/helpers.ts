import { SELF } from "cloudflare:test";
import { expect } from "vitest";
import { runResponseChecks } from "./response-checks";

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export interface RequestOptions {
  token?: string;
  body?: unknown;
  /** A raw body sent as is (for malformed-JSON and content-type tests). */
  rawBody?: BodyInit;
  headers?: Record<string, string>;
}

export const TEST_ORIGIN = "http://edgeboard.test";

/** What every test request is made of: the token, a JSON body (or a raw one), extra headers. */
export function requestInit(method: string, options: RequestOptions = {}): RequestInit {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: BodyInit | undefined = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers["content-type"] ??= "application/json";
  }
  return { method, headers, body };
}

/** A Worker response read once: the text, and the body parsed when it says it is JSON. */
export async function readResponse<T = any>(res: Response): Promise<{ response: ApiResponse<T>; text: string }> {
  const text = await res.text();
  let parsed: unknown = text;
  if (text && (res.headers.get("content-type") ?? "").includes("json")) parsed = JSON.parse(text);
  return { response: { status: res.status, body: parsed as T, headers: res.headers }, text };
}

/** Calls the Worker under test through its real fetch handler. */
export async function api<T = any>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
  const { response, text } = await readResponse<T>(await SELF.fetch(`${TEST_ORIGIN}${path}`, requestInit(method, options)));
  runResponseChecks({ method, path, requestBody: options.body, response, text });
  return response;
}

let counter = 0;
export const uniqueEmail = (prefix = "user") => `${prefix}-${Date.now()}-${++counter}@example.com`;

export interface TestUser {
  token: string;
  refreshToken: string;
  id: string;
  email: string;
  password: string;
  role: "admin" | "editor" | "viewer";
}

/** Registers a fresh organization and returns its admin's session. */
export async function registerOrg(overrides: Record<string, unknown> = {}): Promise<TestUser> {
  const email = uniqueEmail("admin");
  const password = "correct horse battery";
  const res = await api("POST", "/api/auth/register", {
    body: { email, password, firstName: "Ada", lastName: "Admin", organizationName: "Acme", ...overrides },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { token: res.body.accessToken, refreshToken: res.body.refreshToken, id: res.body.user.id, email, password, role: "admin" };
}

/** Creates a member with the given role in the admin's organization and logs them in. */
export async function addMember(admin: TestUser, role: "admin" | "editor" | "viewer"): Promise<TestUser> {
  const email = uniqueEmail(role);
  const password = "member password 1";
  const created = await api("POST", "/api/users", {
    token: admin.token,
    body: { email, password, firstName: "Member", lastName: role, role },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const session = await api("POST", "/api/auth/login", { body: { email, password } });
  expect(session.status).toBe(200);
  return { token: session.body.accessToken, refreshToken: session.body.refreshToken, id: created.body.id, email, password, role };
}

/** Asserts the spec's error shape and returns its details. */
export function expectError(res: ApiResponse, status: number, code: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body).toEqual({
    error: { code, message: expect.any(String), details: expect.any(Array) },
  });
  return res.body.error.details as { field: string; message: string }[];
}

export const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
