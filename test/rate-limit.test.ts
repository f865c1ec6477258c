import { createExecutionContext, env, evictDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { RateLimiter } from "../src/durable-objects/rate-limiter";
import worker from "../src/index";
import { sha256Hex } from "../src/lib/crypto";
import { addMember, expectError, readResponse, registerOrg, requestInit, TEST_ORIGIN, uniqueEmail, type ApiResponse } from "./helpers";

// The suite's defaults (vitest.config.ts) keep every limit out of the way; each test here
// calls the Worker with its own tight limits and a fixed limiter clock instead.
type Vars = Partial<Record<keyof Env, unknown>>;

// A whole second a day ahead, so headers are exact and the cleanup alarm never fires.
const T0 = Math.ceil(Date.now() / 1000) * 1000 + 86_400_000;

interface Call {
  vars?: Vars;
  /** Limiter clock, ms after T0. */
  at?: number;
  ip?: string;
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

async function call(method: string, path: string, options: Call = {}, fetch = worker.fetch): Promise<ApiResponse> {
  const headers = { ...options.headers, ...(options.ip && { "cf-connecting-ip": options.ip }) };
  const request = new Request(`${TEST_ORIGIN}${path}`, requestInit(method, { ...options, headers }));
  const testEnv = { ...env, RATE_LIMIT_TEST_NOW: String(T0 + (options.at ?? 0)), ...options.vars } as Env;
  const ctx = createExecutionContext();
  const res = await fetch(request, testEnv, ctx);
  await waitOnExecutionContext(ctx);
  return (await readResponse(res)).response;
}

let ipCounter = 0;
/** A fresh documentation-range client address per call. */
const freshIp = () => `198.51.${Math.floor(++ipCounter / 250) % 250}.${ipCounter % 250}`;

const login = (email: string, options: Call = {}) =>
  call("POST", "/api/auth/login", { ...options, body: { email, password: "wrong password" } });

const count = (responses: ApiResponse[], status: number) => responses.filter((r) => r.status === status).length;

function expectLimited(res: ApiResponse, retryAfter: number) {
  expectError(res, 429, "rate_limit_exceeded");
  expect(res.body.error.details).toEqual([]);
  expect(res.body.error.message).toContain(`retry in ${retryAfter} second`);
  expect(res.headers.get("retry-after")).toBe(String(retryAfter));
}

describe("login limits", () => {
  it("allows exactly N attempts per email from any mix of IPs, then 429 with Retry-After", async () => {
    const email = uniqueEmail("target");
    const vars = { RATE_LIMIT_LOGIN_EMAIL: "10/60" };
    const responses = [];
    for (let i = 0; i < 15; i++) responses.push(await login(email, { vars, ip: freshIp() }));
    expect(responses.slice(0, 10).map((r) => r.status)).toEqual(Array(10).fill(401));
    // 60 s / 10: the next attempt opens 6 s after the burst.
    for (const res of responses.slice(10)) expectLimited(res, 6);
    expect(responses[10]!.headers.get("ratelimit-policy")).toContain(`"login-email";q=10;w=60`);
    expect(responses[10]!.headers.get("ratelimit")).toContain(`"login-email";r=0;t=60`);
    expect(responses[10]!.headers.get("x-ratelimit-limit")).toBe("10");
    expect(responses[10]!.headers.get("x-ratelimit-remaining")).toBe("0");
    expect(responses[10]!.headers.get("x-ratelimit-reset")).toBe(String(T0 / 1000 + 60));
  });

  it("counts the email as the validator sees it: trimmed and lower-cased", async () => {
    const email = uniqueEmail("case");
    const vars = { RATE_LIMIT_LOGIN_EMAIL: "2/60" };
    expect((await login(email, { vars, ip: freshIp() })).status).toBe(401);
    expect((await login(`  ${email.toUpperCase()} `, { vars, ip: freshIp() })).status).toBe(401);
    expectLimited(await login(email.replace("target", "TARGET"), { vars, ip: freshIp() }), 30);
    expectLimited(await login(` ${email}`, { vars, ip: freshIp() }), 30);
  });

  it("holds exactly under 50 concurrent attempts from 50 addresses", async () => {
    const email = uniqueEmail("burst");
    const vars = { RATE_LIMIT_LOGIN_EMAIL: "10/60" };
    const responses = await Promise.all(Array.from({ length: 50 }, () => login(email, { vars, ip: freshIp() })));
    expect(count(responses, 401)).toBe(10);
    expect(count(responses, 429)).toBe(40);
  });

  it("limits one address spraying many accounts", async () => {
    const ip = freshIp();
    const vars = { RATE_LIMIT_LOGIN_IP: "5/60" };
    const responses = [];
    for (let i = 0; i < 8; i++) responses.push(await login(uniqueEmail("spray"), { vars, ip }));
    expect(responses.map((r) => r.status)).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
    expectLimited(responses[5]!, 12);
    // Another address is unaffected.
    expect((await login(uniqueEmail("spray"), { vars, ip: freshIp() })).status).toBe(401);
  });

  it("still lets the right password in while under the limit, with all three policies in the headers", async () => {
    const admin = await registerOrg();
    const res = await call("POST", "/api/auth/login", {
      ip: freshIp(),
      vars: { RATE_LIMIT_IP: "60/60", RATE_LIMIT_LOGIN_IP: "20/60", RATE_LIMIT_LOGIN_EMAIL: "10/900" },
      body: { email: admin.email, password: admin.password },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("ratelimit-policy")).toBe(`"ip";q=60;w=60, "login-ip";q=20;w=60, "login-email";q=10;w=900`);
    expect(res.headers.get("ratelimit")).toBe(`"ip";r=59;t=1, "login-ip";r=19;t=3, "login-email";r=9;t=90`);
    // The X- trio describes the tightest policy: login-email with 9 left.
    expect(res.headers.get("x-ratelimit-limit")).toBe("10");
    expect(res.headers.get("x-ratelimit-remaining")).toBe("9");
    expect(res.headers.get("x-ratelimit-reset")).toBe(String(T0 / 1000 + 90));
  });

  it("does not forget the count when the Durable Object is evicted", async () => {
    const email = uniqueEmail("evict");
    const vars = { RATE_LIMIT_LOGIN_EMAIL: "3/900" };
    for (let i = 0; i < 3; i++) expect((await login(email, { vars, ip: freshIp() })).status).toBe(401);
    const stub = env.RATE_LIMITER.getByName(`login-email:${await sha256Hex(email)}`);
    await evictDurableObject(stub);
    expectLimited(await login(email, { vars, ip: freshIp() }), 300);
  });

  it("gives the quota back as the clock moves, never before Retry-After", async () => {
    const email = uniqueEmail("clock");
    const vars = { RATE_LIMIT_LOGIN_EMAIL: "10/60" };
    for (let i = 0; i < 10; i++) expect((await login(email, { vars, ip: freshIp() })).status).toBe(401);
    const denied = await login(email, { vars, ip: freshIp(), at: 2_500 });
    expectLimited(denied, 4); // 3.5 s left, rounded up
    // One millisecond early is still refused (with 1 s to go); at Retry-After it passes.
    expectLimited(await login(email, { vars, ip: freshIp(), at: 2_500 + 4_000 - 501 }), 1);
    expect((await login(email, { vars, ip: freshIp(), at: 6_000 })).status).toBe(401);
    expectLimited(await login(email, { vars, ip: freshIp(), at: 6_000 }), 6);
    // A full window after the last attempt the whole quota is back.
    const later = [];
    for (let i = 0; i < 11; i++) later.push(await login(email, { vars, ip: freshIp(), at: 66_000 }));
    expect(count(later, 401)).toBe(10);
    expect(later[0]!.headers.get("x-ratelimit-remaining")).toBe("9");
  });

  it("answers 503 when the limiter fails, instead of letting attempts through", async () => {
    const broken = namespace(() => Promise.reject(new Error("limiter down")));
    const res = await login(uniqueEmail("down"), { ip: freshIp(), vars: { RATE_LIMITER: broken } });
    expectError(res, 503, "service_unavailable");
    expect(res.headers.get("ratelimit")).toBeNull();
  });

  it("answers 503 when the limiter does not answer in time", async () => {
    const hanging = namespace(() => new Promise(() => {}));
    const res = await login(uniqueEmail("slow"), { ip: freshIp(), vars: { RATE_LIMITER: hanging, RATE_LIMIT_TIMEOUT_MS: "20" } });
    expectError(res, 503, "service_unavailable");
  });

  it("turns a policy off with limit 0", async () => {
    const email = uniqueEmail("off");
    const vars = { RATE_LIMIT_LOGIN_EMAIL: "0", RATE_LIMIT_LOGIN_IP: "0" };
    const responses = [];
    for (let i = 0; i < 5; i++) responses.push(await login(email, { vars, ip: freshIp() }));
    expect(count(responses, 401)).toBe(5);
    // Only the general IP policy is left in the headers.
    expect(responses[0]!.headers.get("ratelimit-policy")).toBe(`"ip";q=1000000;w=60`);
    // With it turned on again the same email is limited.
    const on = { RATE_LIMIT_LOGIN_EMAIL: "1/60" };
    expect((await login(email, { vars: on, ip: freshIp() })).status).toBe(401);
    expect((await login(email, { vars: on, ip: freshIp() })).status).toBe(429);
  });
});

describe("register and password change limits", () => {
  it("limits registrations per IP and fails closed", async () => {
    const ip = freshIp();
    const vars = { RATE_LIMIT_REGISTER_IP: "2/3600" };
    const register = () =>
      call("POST", "/api/auth/register", {
        ip,
        vars,
        body: { email: uniqueEmail("reg"), password: "long enough pw", firstName: "R", lastName: "L" },
      });
    expect((await register()).status).toBe(201);
    expect((await register()).status).toBe(201);
    expectLimited(await register(), 1800);
    const broken = namespace(() => Promise.reject(new Error("down")));
    const res = await call("POST", "/api/auth/register", {
      ip: freshIp(),
      vars: { RATE_LIMITER: broken },
      body: { email: uniqueEmail("reg"), password: "long enough pw", firstName: "R", lastName: "L" },
    });
    expectError(res, 503, "service_unavailable");
  });

  it("limits password changes per IP and fails closed", async () => {
    const admin = await registerOrg();
    const ip = freshIp();
    const vars = { RATE_LIMIT_PASSWORD_IP: "2/3600" };
    const change = (v: Vars = vars) =>
      call("POST", "/api/users/me/password", { ip, vars: v, token: admin.token, body: { currentPassword: "nope", newPassword: "another password" } });
    expectError(await change(), 401, "invalid_credentials");
    const second = await change();
    expectError(second, 401, "invalid_credentials");
    expect(second.headers.get("ratelimit")).toContain(`"password-ip";r=0;t=3600`);
    expectLimited(await change(), 1800);
    expectError(await change({ RATE_LIMITER: namespace(() => Promise.reject(new Error("down"))) }), 503, "service_unavailable");
  });
});

describe("general limits", () => {
  it("limits authenticated requests per user: exactly 10 of 50 concurrent succeed", async () => {
    const admin = await registerOrg();
    const vars = { RATE_LIMIT_USER: "10/60" };
    const responses = await Promise.all(Array.from({ length: 50 }, () => call("GET", "/api/users/me", { vars, token: admin.token, ip: freshIp() })));
    expect(count(responses, 200)).toBe(10);
    expect(count(responses, 429)).toBe(40);
    for (const res of responses.filter((r) => r.status === 429)) expectLimited(res, 6);
  });

  it("sends the headers on every response, success or error", async () => {
    const admin = await registerOrg();
    const vars = { RATE_LIMIT_USER: "600/60" };
    const ok = await call("GET", "/api/users/me", { vars, token: admin.token });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("ratelimit-policy")).toBe(`"user";q=600;w=60`);
    expect(ok.headers.get("ratelimit")).toBe(`"user";r=599;t=1`);
    expect(ok.headers.get("x-ratelimit-limit")).toBe("600");
    expect(ok.headers.get("x-ratelimit-remaining")).toBe("599");
    expect(ok.headers.get("x-ratelimit-reset")).toBe(String(T0 / 1000 + 1));
    const missing = await call("GET", `/api/users/${crypto.randomUUID()}`, { vars, token: admin.token });
    expectError(missing, 404, "not_found");
    expect(missing.headers.get("ratelimit")).toBe(`"user";r=598;t=1`);
    const invalid = await call("PATCH", "/api/users/me", { vars, token: admin.token, body: { firstName: "" } });
    expectError(invalid, 400, "validation_error");
    expect(invalid.headers.get("x-ratelimit-remaining")).toBe("597");
    const unknownRoute = await call("GET", "/api/nope", { ip: freshIp(), vars: { RATE_LIMIT_IP: "60/60" } });
    expectError(unknownRoute, 404, "not_found");
    expect(unknownRoute.headers.get("ratelimit")).toBe(`"ip";r=59;t=1`);
  });

  it("exposes the headers to browsers through CORS, also on a 429", async () => {
    const ip = freshIp();
    const vars = { RATE_LIMIT_IP: "1/60" };
    const headers = { origin: "https://app.example.com" };
    expect((await call("GET", "/api/health", { ip, vars, headers })).status).toBe(200);
    const res = await call("GET", "/api/health", { ip, vars, headers });
    expectLimited(res, 60);
    const exposed = (res.headers.get("access-control-expose-headers") ?? "").toLowerCase();
    for (const name of ["ratelimit", "ratelimit-policy", "retry-after", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"]) {
      expect(exposed.split(/,\s*/)).toContain(name);
    }
    expect(res.headers.get("x-request-id")).toBeTruthy();
    expect(res.headers.get("ratelimit")).toBe(`"ip";r=0;t=60`);
  });

  it("limits unauthenticated requests per CF-Connecting-IP and ignores X-Forwarded-For", async () => {
    const ip = freshIp();
    const vars = { RATE_LIMIT_IP: "3/60" };
    for (let i = 0; i < 3; i++) expect((await call("GET", "/api/health", { ip, vars })).status).toBe(200);
    const spoofed = {
      "x-forwarded-for": freshIp(),
      "x-real-ip": freshIp(),
      "true-client-ip": freshIp(),
      forwarded: `for=${freshIp()}`,
    };
    expectLimited(await call("GET", "/api/health", { ip, vars, headers: spoofed }), 20);
    // A bad or forged token does not move the request out of the IP bucket either.
    expectLimited(await call("GET", "/api/health", { ip, vars, token: "a.b.c" }), 20);
    // Sending X-Forwarded-For without CF-Connecting-IP lands in the shared unknown bucket, not
    // in the forged address's.
    expect((await call("GET", "/api/health", { ip: freshIp(), vars })).status).toBe(200);
  });

  it("collapses IPv6 clients to their /64", async () => {
    const vars = { RATE_LIMIT_IP: "2/60" };
    const prefix = `2001:db8:${(++ipCounter).toString(16)}:1`;
    expect((await call("GET", "/api/health", { ip: `${prefix}::1`, vars })).status).toBe(200);
    expect((await call("GET", "/api/health", { ip: `${prefix}:aaaa:bbbb:cccc:dddd`, vars })).status).toBe(200);
    expectLimited(await call("GET", "/api/health", { ip: `${prefix}::ffff`, vars }), 30);
    expect((await call("GET", "/api/health", { ip: `2001:db8:${ipCounter.toString(16)}:2::1`, vars })).status).toBe(200);
  });

  it("keeps one user's exhausted quota away from other users and organizations", async () => {
    const admin = await registerOrg();
    const colleague = await addMember(admin, "viewer");
    const stranger = await registerOrg();
    const vars = { RATE_LIMIT_USER: "3/60" };
    const ip = freshIp(); // all three share one address: the user bucket is what counts
    for (let i = 0; i < 3; i++) expect((await call("GET", "/api/users/me", { vars, ip, token: admin.token })).status).toBe(200);
    expectLimited(await call("GET", "/api/users/me", { vars, ip, token: admin.token }), 20);
    const mine = await call("GET", "/api/users/me", { vars, ip, token: colleague.token });
    expect(mine.status).toBe(200);
    expect(mine.headers.get("x-ratelimit-remaining")).toBe("2");
    expect((await call("GET", "/api/users/me", { vars, ip, token: stranger.token })).status).toBe(200);
  });

  it("fails open for general traffic when the limiter fails or hangs", async () => {
    const admin = await registerOrg();
    const broken = namespace(() => Promise.reject(new Error("limiter down")));
    const hanging = namespace(() => new Promise(() => {}));
    for (const RATE_LIMITER of [broken, hanging]) {
      const vars = { RATE_LIMITER, RATE_LIMIT_TIMEOUT_MS: "20" };
      const me = await call("GET", "/api/users/me", { vars, token: admin.token });
      expect(me.status).toBe(200);
      expect(me.headers.get("ratelimit")).toBeNull();
      expect((await call("GET", "/api/health", { vars, ip: freshIp() })).status).toBe(200);
    }
  });

  it("refuses to serve with a malformed policy", async () => {
    expectError(await call("GET", "/api/health", { vars: { RATE_LIMIT_USER: "lots" } }), 500, "internal_server_error");
  });
});

describe("data-source connection tests", () => {
  it("share one bucket per organization", async () => {
    const admin = await registerOrg();
    const colleague = await addMember(admin, "editor");
    const other = await registerOrg();
    const vars = { RATE_LIMIT_DATASOURCE_TEST_ORG: "2/60" };
    // An invalid body is enough: the limit counts before validation, so no connection is made.
    const hit = (token: string) => call("POST", "/api/data-sources/test-connection", { vars, token, body: {} });
    expectError(await hit(admin.token), 400, "validation_error");
    const second = await hit(colleague.token);
    expectError(second, 400, "validation_error");
    expect(second.headers.get("ratelimit")).toBe(`"user";r=999999;t=1, "datasource-test-org";r=0;t=60`);
    expectLimited(await hit(admin.token), 30);
    expectLimited(await hit(colleague.token), 30);
    expectError(await hit(other.token), 400, "validation_error");
  });
});

/** A stand-in RATE_LIMITER binding whose objects answer `consume` with `answer()`. */
function namespace(answer: () => Promise<unknown>): DurableObjectNamespace<RateLimiter> {
  return { getByName: () => ({ consume: answer }) } as unknown as DurableObjectNamespace<RateLimiter>;
}
