// Runs generated cases against the Worker and checks the invariants on each answer:
//   1. never a 5xx;
//   2. a non-2xx answer is the spec's error shape with the status its code maps to (the shared
//      response check in test/response-checks.ts) and the status the request's first fault
//      calls for (the oracle below: 413 > 401 > 403 > malformed id > content type > 400 > 404);
//   3. the database is unchanged after any rejected request and after any GET;
//   4. no response header was injected.
import { env } from "cloudflare:test";
import { getTableName, is } from "drizzle-orm";
import { SQLiteTable } from "drizzle-orm/sqlite-core";
import fc from "fast-check";
import { decodeJwt } from "jose";
import { expect } from "vitest";
import * as schema from "../../src/db/schema";
import { loadConfig } from "../../src/env";
import { canonicalHost } from "../../src/lib/host-guard";
import { findInJson } from "../../src/lib/json-walk";
import { signAccessToken } from "../../src/lib/jwt";
import { isLoopbackHost } from "../../src/schemas/data-source-connection";
import { SAMPLE_DATA_SOURCE_ID } from "../../src/services/sample-source";
import { api, type ApiResponse } from "../helpers";
import { applyOps, exampleOf, queryMustFail, queryString, RAW_BODIES, type FuzzCase, type IdCase, type IdChoice } from "./cases";
import type { IdKind, RouteSpec, World } from "./routes";
import { toJsonText } from "./values";
import { idPools, type OtherTenant } from "./world";

// ---- Seeds and run counts (vitest.config.ts passes FUZZ_* from the shell)

export const DEFAULT_SEED = 20_260_708;
/** Route cases per run (the no-route property adds its own share): the issue asks for ≥ 2,000. */
export const DEFAULT_TOTAL_RUNS = 2_000;

export const fuzzSettings = () => ({
  seed: env.FUZZ_SEED ? Number(env.FUZZ_SEED) : DEFAULT_SEED,
  totalRuns: env.FUZZ_RUNS ? Number(env.FUZZ_RUNS) : DEFAULT_TOTAL_RUNS,
  route: env.FUZZ_ROUTE || undefined,
  path: env.FUZZ_PATH || undefined,
});

/** Each route (or property) gets its own seed from the run's seed, so one can be replayed alone. */
export function seedFor(base: number, name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return (base ^ h) | 0;
}

/** Runs a property and, on failure, throws with the command line that replays it. */
export async function checkProperty<T>(name: string, property: fc.IAsyncProperty<T>, numRuns: number, file: string): Promise<number> {
  const settings = fuzzSettings();
  const replaying = settings.route === name && settings.path !== undefined;
  const details = await fc.check(property, {
    seed: seedFor(settings.seed, name),
    numRuns,
    ...(replaying ? { path: settings.path } : {}),
  });
  if (details.failed) {
    const replay = `FUZZ_SEED=${settings.seed} FUZZ_ROUTE='${name}' FUZZ_PATH='${details.counterexamplePath}' npx vitest run ${file}`;
    const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    throw new Error(`fuzz: "${name}" failed: ${cause}\nReplay with:\n  ${replay}\n\n${fc.defaultReportMessage(details)}`);
  }
  return details.numRuns;
}

// ---- The database, before and after

const TABLES = Object.values(schema as Record<string, unknown>)
  .filter((value): value is SQLiteTable => is(value, SQLiteTable))
  .map((table) => getTableName(table));

/** Every app table's rows plus the schema itself, as comparable text. */
export async function snapshot(): Promise<string[]> {
  const results = await env.DB.batch([
    env.DB.prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"),
    ...TABLES.map((table) => env.DB.prepare(`SELECT * FROM "${table}" ORDER BY rowid`)),
  ]);
  return results.map((r) => JSON.stringify(r.results));
}

/** The built-in sample source's database: widget queries run there, and must never change it. */
export async function sampleSnapshot(): Promise<string> {
  const all = await env.SAMPLE_DB.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all<{ name: string }>();
  // D1's own bookkeeping tables (_cf_*) are not the sample's.
  const tables = { results: all.results.filter(({ name }) => !name.startsWith("_cf") && !name.startsWith("sqlite_")) };
  const results = await env.SAMPLE_DB.batch([
    env.SAMPLE_DB.prepare("SELECT type, name, sql FROM sqlite_master ORDER BY type, name"),
    ...tables.results.map(({ name }) => env.SAMPLE_DB.prepare(`SELECT * FROM "${name}" ORDER BY rowid`)),
  ]);
  return JSON.stringify(results.map((r) => r.results));
}

export function changedTables(before: string[], after: string[]): string[] {
  return ["sqlite_master", ...TABLES].filter((_, i) => before[i] !== after[i]);
}

// ---- Tokens that look right but are not

export type ForgedTokens = Record<"expired" | "otherSecret" | "algNone" | "tampered" | "endedSession" | "refreshTokenAsAccess", string>;

const b64url = (text: string) => btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

export async function forgeTokens(world: World, other: OtherTenant, endedSession: string): Promise<ForgedTokens> {
  const config = loadConfig(env);
  const claims = decodeJwt(world.admin.token);
  const actor = { userId: String(claims.sub), organizationId: String(claims.org), role: "admin" as const, sessionId: String(claims.sid) };
  const [header, payload, signature] = world.admin.token.split(".");
  const foreignOrg = String(decodeJwt(other.world.admin.token).org);
  return {
    expired: await signAccessToken(actor, config, Date.now() - 2 * 3600 * 1000),
    otherSecret: await signAccessToken(actor, { ...config, jwtSecret: new TextEncoder().encode("not-the-secret-0123456789abcdef-0123456789") }),
    algNone: `${b64url(JSON.stringify({ alg: "none", typ: "JWT" }))}.${payload}.`,
    tampered: `${header}.${b64url(JSON.stringify({ ...JSON.parse(atob(payload!.replace(/-/g, "+").replace(/_/g, "/"))), org: foreignOrg }))}.${signature}`,
    endedSession,
    refreshTokenAsAccess: world.admin.refreshToken,
  };
}

// ---- Building the request

export interface FuzzTarget {
  route: RouteSpec;
  world: World;
  other: OtherTenant;
  forged: ForgedTokens;
  maxBodyBytes: number;
}

type IdClass = "real" | "unknown" | "malformed";

interface Built {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Uint8Array;
  chunked: boolean;
  /** The JSON body after ops, when there was one (for the connection guard). */
  bodyText?: string;
  idClasses: IdClass[];
  bodyMustFail: boolean;
  bodyMutated: boolean;
  /** Not Unicode text (bytes that are not UTF-8, or JSON whose strings hold a lone surrogate): a body-format fault, judged before any auth. */
  notUtf8: boolean;
}

/** Valid JSON with a `\u` escape that leaves a lone surrogate in a string or key. */
function holdsLoneSurrogate(text: string): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return false;
  }
  const lone = /[\ud800-\udfff]/u;
  return findInJson(parsed, (value, key) => ((typeof key === "string" && lone.test(key)) || (typeof value === "string" && lone.test(value)) ? "lone" : null)) !== null;
}

function isUtf8(bytes: Uint8Array): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

const RANK = { viewer: 0, editor: 1, admin: 2 } as const;
const enc = (s: string) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, "\ufffd"));

function resolveId(t: FuzzTarget, kind: IdKind, c: IdCase, lowRole: boolean): { text: string; cls: IdClass } {
  const pools = idPools(t.world, t.other);
  // From the low-role caller's side (the other tenant's viewer) the other tenant's ids are its own.
  const own = lowRole ? pools.foreign(kind) : pools.own(kind);
  const foreign = lowRole ? pools.own(kind) : pools.foreign(kind);
  const special = kind === "dataSource" ? SAMPLE_DATA_SOURCE_ID : kind === "user" ? (lowRole ? t.other.viewer.id : t.world.admin.id) : undefined;
  switch (c.kind) {
    case "own":
      return own ? { text: own, cls: "real" } : { text: crypto.randomUUID(), cls: "unknown" };
    case "special":
      return special ? { text: special, cls: "real" } : { text: own ?? crypto.randomUUID(), cls: own ? "real" : "unknown" };
    case "foreign":
      return foreign ? { text: foreign, cls: t.route.tenantless ? "real" : "unknown" } : { text: crypto.randomUUID(), cls: "unknown" };
    case "otherKind": {
      // A real id of another kind (a widget's where a dashboard's goes): unknown on this route.
      const candidates = pools.all.filter((id) => id !== own && id !== special && id !== foreign);
      return { text: candidates[c.pick % candidates.length] ?? crypto.randomUUID(), cls: "unknown" };
    }
    case "uppercase":
      return { text: (own ?? crypto.randomUUID()).toUpperCase(), cls: "unknown" };
    case "random":
    case "fixed":
      return { text: c.uuid, cls: c.uuid === own ? "real" : "unknown" };
    case "malformed":
      return { text: c.raw ? c.text : enc(c.text), cls: "malformed" };
  }
}

/** A body reference choice as a path-id case (the same pools, the same meaning). */
function idChoice(which: IdChoice): IdCase {
  if (which === "sample") return { kind: "special" };
  if (which === "random") return { kind: "random", uuid: "00000000-0000-4000-8000-00000000d5d5" };
  if (which === "otherKind") return { kind: "otherKind", pick: 1 };
  return { kind: which };
}

function authHeader(t: FuzzTarget, c: FuzzCase): string | undefined {
  const a = c.auth;
  switch (a.kind) {
    case "valid":
      return `Bearer ${t.world.admin.token}`;
    case "none":
      return undefined;
    case "bad":
      return a.header;
    case "forged":
      return `Bearer ${t.forged[a.which]}`;
    case "oversized":
      return a.shape === "jwt" ? `Bearer ${"a".repeat(a.length)}.${"b".repeat(a.length)}.${"c".repeat(16)}` : `Bearer ${"x".repeat(a.length)}`;
    case "lowRole":
      return `Bearer ${t.other.viewer.token}`;
    case "schemeCase":
      return `${a.scheme} ${t.world.admin.token}`;
  }
}

export function build(t: FuzzTarget, c: FuzzCase): Built {
  const { route } = t;
  const lowRole = c.auth.kind === "lowRole";
  const idClasses: IdClass[] = [];
  let path = route.path;
  for (const [name, kind] of Object.entries(route.params)) {
    const id = resolveId(t, kind, c.ids[name]!, lowRole);
    idClasses.push(id.cls);
    path = path.replace(`:${name}`, id.text);
  }
  path += queryString(c.query);

  const headers: Record<string, string> = { ...c.headers };
  const auth = authHeader(t, c);
  if (auth !== undefined) headers.authorization = auth;
  if (c.contentType.value !== null) headers["content-type"] = c.contentType.value;

  let body: Uint8Array | undefined;
  let bodyText: string | undefined;
  let bodyMustFail = false;
  let bodyMutated = false;
  let notUtf8 = false;
  const b = c.body;
  if (b.kind === "example") {
    const applied = applyOps(route, exampleOf(route, t.world), b.ops, (which, kind) => resolveId(t, kind, idChoice(which), lowRole).text);
    bodyText = toJsonText(applied.value);
    body = new TextEncoder().encode(bodyText);
    bodyMustFail = applied.mustFail;
    bodyMutated = applied.mutated;
    notUtf8 = holdsLoneSurrogate(bodyText);
  } else if (b.kind === "raw") {
    const raw = RAW_BODIES[b.name]!;
    const made = raw.make(toJsonText(exampleOf(route, t.world)), b.cut);
    body = typeof made === "string" ? new TextEncoder().encode(made) : made;
    if (typeof made === "string") bodyText = made;
    if (typeof made === "string" && holdsLoneSurrogate(made)) notUtf8 = true;
    bodyMustFail = raw.mustFail === true;
    bodyMutated = raw.mustFail === "unknown";
    notUtf8 ||= !isUtf8(body);
  } else if (b.kind === "bytes") {
    body = Uint8Array.from(b.bytes);
    bodyMustFail = true;
    notUtf8 = !isUtf8(body);
  } else if (b.kind === "ignored") {
    body = new TextEncoder().encode(b.text);
  }
  return { method: route.method, path, headers, body, chunked: c.transport === "chunked", bodyText, idClasses, bodyMustFail, bodyMutated, notUtf8 };
}

/** The connection test really connects: a case whose host is not loopback is never sent. */
export function leavesTheMachine(b: Built): boolean {
  if (!b.bodyText) return false;
  let parsed: unknown;
  try {
    parsed = JSON.parse(b.bodyText);
  } catch {
    return false;
  }
  const host = (parsed as { connection?: { host?: unknown } } | null)?.connection?.host;
  if (typeof host !== "string") return false;
  return canonicalHost(host.trim()) !== null && !isLoopbackHost(host.trim());
}

// ---- The oracle: which statuses a request may get, from its first fault

export interface Expectation {
  statuses: Set<number>;
  why: string;
}

export function expectedStatuses(t: FuzzTarget, c: FuzzCase, b: Built): Expectation {
  const { route } = t;
  const size = b.body?.byteLength ?? 0;
  const extra = new Set<number>();
  const only = (why: string, ...statuses: number[]) => ({ statuses: new Set([...statuses, ...extra]), why });
  if (size > t.maxBodyBytes) return { statuses: new Set([413]), why: "body over MAX_BODY_BYTES" };

  const lowRole = c.auth.kind === "lowRole";
  if (route.auth) {
    const k = c.auth.kind;
    if (k === "none" || k === "bad" || k === "forged" || k === "oversized") return only("no valid token", 401);
    if (lowRole && RANK[route.role] > RANK.viewer) return only(`the ${route.role} role is required`, 403);
  }
  if (b.idClasses.includes("malformed")) return only("a path id that is not a UUID", 404);

  // The body's format is the JSON validator's first check (after auth, role and the path id);
  // a route that takes no body ignores one.
  const readsBody = ["POST", "PATCH", "PUT"].includes(route.method);
  if (route.body && readsBody && size > 0) {
    if (c.contentType.cls === "notJson") return only("a body with a non-JSON Content-Type", 400);
    if (b.notUtf8) return only("a body that is not Unicode text", 400);
  }

  let invalid = route.query !== undefined && queryMustFail(c.query);
  if (route.body) {
    // A JSON route reads the body only under a JSON Content-Type; without one it validates `{}`,
    // which no route takes.
    const bodyRead = c.contentType.cls === "json" && c.body.kind !== "none";
    if (!bodyRead || b.bodyMustFail) invalid = true;
  }
  if (invalid) return only("invalid query or body", 400);
  // The body is validated before the lookup: a mutated one may be refused first.
  if (b.idClasses.includes("unknown")) return route.body && b.bodyMutated ? only("an unknown id, a mutated body", 404, 400) : only("an id that is not the caller's", 404);

  const statuses = new Set([...route.domain, ...extra]);
  // A mutation not known to break the body (a dropped optional field, a long string) may still.
  if (route.body && b.bodyMutated) statuses.add(400);
  return { statuses, why: "past every check: the route's own answers" };
}

// ---- One case

export interface CaseResult {
  status: number;
}

const WRITE_METHODS = new Set(["POST", "PATCH", "PUT", "DELETE"]);

function streamOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  const half = Math.floor(bytes.byteLength / 2);
  return new ReadableStream({
    start(controller) {
      controller.enqueue(bytes.slice(0, half));
      controller.enqueue(bytes.slice(half));
      controller.close();
    },
  });
}

export async function send(b: Built): Promise<ApiResponse> {
  const rawBody = b.body === undefined ? undefined : b.chunked ? streamOf(b.body) : b.body;
  return api(b.method, b.path, { headers: b.headers, ...(rawBody !== undefined ? { rawBody } : {}) });
}

/** Sends one case and checks every invariant; throws (an assertion) on the first broken one. */
export async function runCase(t: FuzzTarget, c: FuzzCase): Promise<CaseResult> {
  const b = build(t, c);
  if (t.route.connects && leavesTheMachine(b)) {
    fc.pre(false);
  }
  const expected = expectedStatuses(t, c, b);
  const before = await snapshot();
  const res = await send(b);
  const after = await snapshot();
  const summary = () => `${b.method} ${b.path.slice(0, 300)} → ${res.status} ${JSON.stringify(res.body).slice(0, 400)}`;

  expect(res.status, `5xx: ${summary()}`).toBeLessThan(500);
  expect([...res.headers.keys()].filter((h) => h.startsWith("x-injected")), `injected header: ${summary()}`).toEqual([]);
  expect(expected.statuses.has(res.status), `expected ${[...expected.statuses].join("/")} (${expected.why}): ${summary()}`).toBe(true);
  const rejected = res.status >= 300;
  if (rejected || !WRITE_METHODS.has(b.method)) {
    expect(changedTables(before, after), `${rejected ? "rejected" : "read-only"} request changed the database: ${summary()}`).toEqual([]);
  }
  if (res.status >= 200 && res.status < 300) {
    const isJson = (res.headers.get("content-type") ?? "").includes("json");
    // The docs page is HTML; every other 2xx (but 204) is a JSON object.
    if (res.status !== 204 && !b.path.startsWith("/api/docs")) expect(isJson && typeof res.body, `2xx without a JSON body: ${summary()}`).toBe("object");
    await t.route.afterSuccess?.(t.world, res, t.route);
  }
  return { status: res.status };
}

