// Bad input, generated (issue 8): every route of the app gets requests built from its valid
// example and then broken in every way a hostile client, a careless integration or a bad proxy
// would (test/fuzz/cases.ts), and each answer is checked against the invariants in
// test/fuzz/harness.ts. Seeded: FUZZ_SEED / FUZZ_RUNS / FUZZ_ROUTE / FUZZ_PATH replay a failure.
import { env } from "cloudflare:test";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { loadConfig } from "../src/env";
import { changedTables, checkProperty, forgeTokens, fuzzSettings, runCase, sampleSnapshot, snapshot, type FuzzTarget } from "./fuzz/harness";
import { caseArb, exampleOf } from "./fuzz/cases";
import { ROUTES, routeKey } from "./fuzz/routes";
import { buildOtherTenant, buildWorld, type OtherTenant } from "./fuzz/world";
import { api, registerOrg, type TestUser } from "./helpers";

const FILE = "test/fuzz-api.test.ts";
const settings = fuzzSettings();
const maxBodyBytes = loadConfig(env).maxBodyBytes;
const totalWeight = ROUTES.reduce((sum, r) => sum + r.weight, 0);
const runsFor = (weight: number) => Math.max(5, Math.round((settings.totalRuns * weight) / totalWeight));
const tally = { cases: 0, routes: 0 };

let other: OtherTenant;
const admins = new Map<string, TestUser>();
let endedSession: string;

beforeAll(async () => {
  other = await buildOtherTenant();
  // An access token whose session has been logged out: well signed, no longer honoured.
  const login = await api("POST", "/api/auth/login", { body: { email: other.world.admin.email, password: other.world.admin.password } });
  await api("POST", "/api/auth/logout", { body: { refreshToken: login.body.refreshToken } });
  endedSession = login.body.accessToken;
}, 60_000);

afterAll(() => {
  console.log(`fuzz-api: ${tally.cases} generated cases over ${tally.routes} routes (seed ${settings.seed}, FUZZ_RUNS ${settings.totalRuns})`);
});

describe("the fuzz route table", () => {
  it("covers every (method, path) the app registers, and nothing else", () => {
    const registered = new Set(
      createApp()
        .routes.filter((r) => r.method !== "ALL" && !r.path.includes("*"))
        .map(routeKey),
    );
    expect(ROUTES.map(routeKey).sort()).toEqual([...registered].sort());
  });
});

describe("generated requests, every route", () => {
  for (const route of ROUTES) {
    const name = routeKey(route);
    const numRuns = runsFor(route.weight);
    it.skipIf(settings.route !== undefined && settings.route !== name)(`${name} (${numRuns} cases)`, { timeout: 180_000 }, async () => {
      if (!admins.has(route.org)) admins.set(route.org, await registerOrg({ organizationName: `Fuzz ${route.org}` }));
      const world = await buildWorld(route.needs, admins.get(route.org));
      const target: FuzzTarget = { route, world, other, forged: await forgeTokens(world, other, endedSession), maxBodyBytes };
      const example = route.body ? exampleOf(route, world) : undefined;
      const arbitrary = caseArb(route, example, maxBodyBytes);
      const sampleBefore = await sampleSnapshot();
      tally.cases += await checkProperty(name, fc.asyncProperty(arbitrary, async (c) => void (await runCase(target, c))), numRuns, FILE);
      expect(await sampleSnapshot(), "the sample source's database changed").toBe(sampleBefore);
      tally.routes++;
    });
  }
});

describe("generated requests, no route", () => {
  // Paths and methods near the real ones (a trailing slash, a doubled or extra segment, another
  // case, an encoded traversal) and far from them. Where no route matches, the answer is the
  // router's 404/405 (or the auth in front of a mounted app): never a 5xx, never another route.
  const app = createApp();
  const patterns = app.routes
    .filter((r) => r.method !== "ALL" && !r.path.includes("*"))
    .map((r) => ({ method: r.method, pattern: new RegExp(`^${r.path.replace(/:[^/]+/g, "[^/]+")}$`) }));
  const templates = [...new Set(ROUTES.map((r) => r.path))];
  const segment = fc.oneof(
    fc.constantFrom("", "x", "..%2F", "%2e%2e%2f", "%00", "%ZZ", "api", "users", "me", "widgets", "00000000-0000-4000-8000-000000000000", "a".repeat(300)),
    fc.string({ maxLength: 8 }).map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, ""))),
  );
  const pathArb = fc.oneof(
    fc.tuple(fc.constantFrom(...templates), fc.constantFrom("/", "//", "/x", "/x/y", "/..%2F..", "%20", ".json", "?a=1", "/%2F")).map(([t, suffix]) => t.replace(/:[a-zA-Z]+/g, "00000000-0000-4000-8000-000000000000") + suffix),
    fc.constantFrom(...templates).map((t) => t.replace(/:[a-zA-Z]+/g, "x").toUpperCase()),
    fc.constantFrom(...templates).map((t) => t.replace("/api", "//api").replace(/:[a-zA-Z]+/g, "1")),
    fc.array(segment, { minLength: 0, maxLength: 6 }).map((parts) => `/${parts.join("/")}`),
    fc.array(segment, { minLength: 1, maxLength: 4 }).map((parts) => `/api/${parts.join("/")}`),
  );
  // (workerd's fetch refuses methods outside the standard ones, so no PROPFIND or made-up verbs.)
  const methodArb = fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "patch", "get");

  it(`answers 404/405 in the spec's shape (${runsFor(2)} cases)`, { timeout: 120_000 }, async () => {
    const admin = await registerOrg({ organizationName: "Fuzz no route" });
    const property = fc.asyncProperty(methodArb, pathArb, fc.boolean(), async (method, path, withToken) => {
      const before = await snapshot();
      const res = await api(method, path, { ...(withToken ? { token: admin.token } : {}) });
      const after = await snapshot();
      const where = `${method} ${path} → ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`;
      expect(res.status, where).toBeLessThan(500);
      const pathname = new URL(`http://x${path}`).pathname;
      const decoded = (() => {
        try {
          return decodeURI(pathname);
        } catch {
          return pathname;
        }
      })();
      const routeish = patterns.some((p) => p.pattern.test(pathname) || p.pattern.test(decoded));
      if (!routeish && method.toUpperCase() !== "OPTIONS") expect([401, 403, 404, 405], where).toContain(res.status);
      if (res.status === 405) {
        const allow = (res.headers.get("allow") ?? "").split(", ").filter(Boolean);
        expect(allow.length, where).toBeGreaterThan(0);
        for (const m of allow) expect(patterns.some((p) => p.method === m && p.pattern.test(pathname)), `${where}: Allow ${m}`).toBe(true);
      }
      if (res.status >= 300) expect(changedTables(before, after), where).toEqual([]);
    });
    tally.cases += await checkProperty("no route", property, runsFor(2), FILE);
  });
});
