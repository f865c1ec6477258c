// Bad input, generated (issue 8): every route of the app gets requests built from its valid
// example and then broken in every way a hostile client, a careless integration or a bad proxy
// would (test/fuzz/cases.ts), and each answer is checked against the invariants in
// test/fuzz/harness.ts. Seeded: FUZZ_SEED / FUZZ_RUNS / FUZZ_ROUTE / FUZZ_PATH replay a failure.
import { env } from "cloudflare:test";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { loadConfig } from "../src/env";
import { checkProperty, forgeTokens, fuzzSettings, runCase, type FuzzTarget } from "./fuzz/harness";
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
      tally.cases += await checkProperty(name, fc.asyncProperty(arbitrary, async (c) => void (await runCase(target, c))), numRuns, FILE);
      tally.routes++;
    });
  }
});
