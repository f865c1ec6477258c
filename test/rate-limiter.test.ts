import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { gcra, type RateLimiter } from "../src/durable-objects/rate-limiter";
import { clientIpKey, parsePolicy, rateLimitHeaders } from "../src/lib/rate-limit";

// A whole second a day ahead: the real clock never reaches it during the run, so the
// cleanup alarm (which uses the real clock) never fires on these keys by itself.
const T0 = Math.ceil(Date.now() / 1000) * 1000 + 86_400_000;
let n = 0;
const limiter = () => env.RATE_LIMITER.getByName(`test:${Date.now()}-${++n}`);

describe("GCRA", () => {
  it("lets exactly `limit` requests burst, then refills one per window/limit", () => {
    let tat: number | undefined;
    const now = T0 * 1000;
    const results = [];
    for (let i = 0; i < 12; i++) {
      const r = gcra(tat, now, 10, 60);
      if (r.tat !== undefined) tat = r.tat;
      results.push(r.decision);
    }
    expect(results.filter((d) => d.allowed)).toHaveLength(10);
    expect(results.map((d) => d.remaining)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0, 0]);
    // Denied: the next slot opens one interval (6 s) after the burst; the quota is full after 60 s.
    expect(results[10]).toEqual({ allowed: false, remaining: 0, resetAfterMs: 60_000, retryAfterMs: 6_000 });
    expect(gcra(tat, now + 5_999_999, 10, 60).decision.allowed).toBe(false);
    expect(gcra(tat, now + 6_000_000, 10, 60).decision).toMatchObject({ allowed: true, remaining: 0 });
  });

  it("keeps the burst exact when the window does not divide by the limit", () => {
    let tat: number | undefined;
    let allowed = 0;
    for (let i = 0; i < 20; i++) {
      const r = gcra(tat, 0, 7, 60);
      if (r.tat !== undefined) {
        tat = r.tat;
        allowed++;
      }
    }
    expect(allowed).toBe(7);
  });
});

describe("RateLimiter Durable Object", () => {
  it("counts only allowed requests: denials do not push the next slot further out", async () => {
    const stub = limiter();
    const ask = (now: number) => stub.consume({ limit: 2, windowSeconds: 60, now });
    expect((await ask(T0)).allowed).toBe(true);
    expect((await ask(T0)).allowed).toBe(true);
    for (let i = 0; i < 20; i++) expect((await ask(T0 + i)).allowed).toBe(false);
    // One interval (30 s) after the burst exactly one slot is back, however many were refused.
    const later = await ask(T0 + 30_000);
    expect(later).toMatchObject({ allowed: true, remaining: 0, now: T0 + 30_000 });
    expect((await ask(T0 + 30_000)).allowed).toBe(false);
  });

  it("allows exactly the limit out of 50 concurrent calls", async () => {
    const stub = limiter();
    const decisions = await Promise.all(
      Array.from({ length: 50 }, () => stub.consume({ limit: 10, windowSeconds: 60, now: T0 })),
    );
    expect(decisions.filter((d) => d.allowed)).toHaveLength(10);
    expect(decisions.filter((d) => d.allowed).map((d) => d.remaining).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it("keeps its count across eviction", async () => {
    const stub = limiter();
    for (let i = 0; i < 3; i++) expect((await stub.consume({ limit: 3, windowSeconds: 900, now: T0 })).allowed).toBe(true);
    await evictDurableObject(stub);
    expect((await stub.consume({ limit: 3, windowSeconds: 900, now: T0 })).allowed).toBe(false);
  });

  it("after a restart a busy key is never looser, and at most 1% of its quota stricter", async () => {
    const stub = limiter();
    const ask = () => stub.consume({ limit: 1000, windowSeconds: 100, now: T0 });
    for (let i = 0; i < 5; i++) await ask();
    await evictDurableObject(stub);
    let allowed = 0;
    for (let i = 0; i < 1000; i++) if ((await ask()).allowed) allowed++;
    expect(allowed).toBeLessThanOrEqual(995);
    expect(allowed).toBeGreaterThanOrEqual(985);
  });

  it("schedules an alarm that keeps state while the window runs", async () => {
    const stub = limiter();
    // Real clock: the TAT lies an hour ahead, so the alarm must not forget it.
    await stub.consume({ limit: 1, windowSeconds: 3600 });
    const alarm = await runInDurableObject(stub, (_: RateLimiter, state) => state.storage.getAlarm());
    expect(alarm).toBeGreaterThan(Date.now() + 3_500_000);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await stub.consume({ limit: 1, windowSeconds: 3600 })).allowed).toBe(false);
    expect(await runInDurableObject(stub, (_: RateLimiter, state) => state.storage.getAlarm())).not.toBeNull();
  });

  it("deletes a key's state once it has been idle past its window", async () => {
    const stub = limiter();
    // Requests made two hours ago under a one-minute window: idle long enough.
    const past = Date.now() - 7_200_000;
    await stub.consume({ limit: 1, windowSeconds: 60, now: past });
    // The alarm may already have fired by itself (its time is in the past); run it if not.
    await runDurableObjectAlarm(stub);
    const stored = await runInDurableObject(stub, (_: RateLimiter, state) => [...state.storage.kv.list()]);
    expect(stored).toEqual([]);
    expect(await runInDurableObject(stub, (_: RateLimiter, state) => state.storage.getAlarm())).toBeNull();
  });

  it("uses its own clock when the caller passes none", async () => {
    const stub = limiter();
    const before = Date.now();
    const d = await stub.consume({ limit: 5, windowSeconds: 60 });
    expect(d.now).toBeGreaterThanOrEqual(before);
    expect(d.now).toBeLessThan(before + 60_000);
  });
});

describe("client IP keys", () => {
  it("keeps IPv4 addresses as they are", () => {
    expect(clientIpKey("203.0.113.7")).toBe("203.0.113.7");
    expect(clientIpKey(" 203.0.113.7 ")).toBe("203.0.113.7");
  });

  it("collapses IPv6 to its /64 whatever the notation", () => {
    const key = clientIpKey("2001:db8:1:2:3:4:5:6");
    expect(key).toBe("2001:db8:1:2::/64");
    expect(clientIpKey("2001:0DB8:0001:0002:ffff:ffff:ffff:ffff")).toBe(key);
    expect(clientIpKey("2001:db8:1:2::1")).toBe(key);
    expect(clientIpKey("2001:db8:1:2::")).toBe(key);
    expect(clientIpKey("2001:db8:1:2::1%eth0")).toBe(key);
    expect(clientIpKey("2001:db8:1:2:0:0:192.0.2.1")).toBe(key);
    expect(clientIpKey("2001:db8:1:3::1")).not.toBe(key);
    expect(clientIpKey("::1")).toBe("0:0:0:0::/64");
    expect(clientIpKey("2001:db8::")).toBe("2001:db8:0:0::/64");
  });

  it("treats IPv4-mapped IPv6 as the IPv4 address", () => {
    expect(clientIpKey("::ffff:192.0.2.1")).toBe("192.0.2.1");
    expect(clientIpKey("::ffff:c000:201")).toBe("192.0.2.1");
  });

  it("puts missing and malformed values in one shared bucket", () => {
    for (const bad of [undefined, "", "unknown", "256.1.1.1", "1.2.3", "1:2:3", "1::2::3", "1:2:3:4:5:6:7:8:9", "12345::", "203.0.113.7, 10.0.0.1"]) {
      expect(clientIpKey(bad), String(bad)).toBe("unknown");
    }
  });
});

describe("policy settings", () => {
  it("parses limit/window and treats limit 0 as off", () => {
    expect(parsePolicy("X", "600/60")).toEqual({ limit: 600, windowSeconds: 60 });
    expect(parsePolicy("X", " 10/900 ")).toEqual({ limit: 10, windowSeconds: 900 });
    expect(parsePolicy("X", "0")).toBeNull();
    expect(parsePolicy("X", "0/60")).toBeNull();
  });

  it("rejects malformed values by name", () => {
    for (const bad of ["", "ten/60", "10", "10/0", "-1/60", "10/60s", "1.5/60"]) {
      expect(() => parsePolicy("RATE_LIMIT_USER", bad), bad).toThrow(/RATE_LIMIT_USER/);
    }
  });

  it("formats the IETF and X-RateLimit headers, the refusing policy winning the X- trio", () => {
    const headers = rateLimitHeaders([
      { policy: { name: "ip", limit: 60, windowSeconds: 60, failClosed: false }, decision: { allowed: true, remaining: 59, resetAfterMs: 1000, retryAfterMs: 0, now: T0 } },
      { policy: { name: "login-email", limit: 10, windowSeconds: 900, failClosed: true }, decision: { allowed: false, remaining: 0, resetAfterMs: 900_000, retryAfterMs: 90_000, now: T0 } },
    ]);
    expect(headers).toEqual({
      "RateLimit-Policy": `"ip";q=60;w=60, "login-email";q=10;w=900`,
      RateLimit: `"ip";r=59;t=1, "login-email";r=0;t=900`,
      "X-RateLimit-Limit": "10",
      "X-RateLimit-Remaining": "0",
      "X-RateLimit-Reset": String(T0 / 1000 + 900),
    });
  });
});
