import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { Actor, AppEnv } from "../env";
import { sha256Hex } from "../lib/crypto";
import { ApiError } from "../lib/errors";
import { assertJsonBody } from "../lib/json-body";
import { bearerToken, verifyAccessToken } from "../lib/jwt";
import { errorFields, log } from "../lib/log";
import {
  clientIpKey,
  rateLimitHeaders,
  type AppliedLimit,
  type PolicyName,
  type RateLimitPolicy,
} from "../lib/rate-limit";
import type { RateLimitDecision } from "../durable-objects/rate-limiter";

/** Picks the identity a policy counts against; null skips the policy for this request. */
export type RateLimitKey = (c: Context<AppEnv>) => string | null | Promise<string | null>;

/**
 * What a client refused by a fail-closed policy is told to wait (Retry-After) while the limiter
 * cannot answer: short, since such outages are, and long enough that a retry loop backs off.
 */
const LIMITER_UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

class LimiterTimeout extends Error {
  override name = "LimiterTimeout";
}

/** One round trip to the key's Durable Object, bounded by the configured timeout. */
async function ask(c: Context<AppEnv>, policy: RateLimitPolicy, key: string): Promise<RateLimitDecision> {
  const { timeoutMs, testNow } = c.var.config.rateLimits;
  const stub = c.env.RATE_LIMITER.getByName(`${policy.name}:${key}`);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new LimiterTimeout(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const request = { limit: policy.limit, windowSeconds: policy.windowSeconds, ...(testNow !== undefined ? { now: testNow } : {}) };
    return await Promise.race([stub.consume(request), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function tooManyRequests(applied: AppliedLimit, headers: Record<string, string>): ApiError {
  const wait = Math.max(1, Math.ceil(applied.decision.retryAfterMs / 1000));
  return new ApiError(
    "rate_limit_exceeded",
    `Too many requests; retry in ${wait} second${wait === 1 ? "" : "s"}`,
    [],
    { ...headers, "Retry-After": String(wait) },
  );
}

/**
 * Counts the request against `policy` for the identity `key` picks, and answers 429 once it
 * is spent. Every response on the route carries the rate-limit headers of all policies that
 * judged it (they are set after `next()`, so error responses keep them too).
 */
export const rateLimit = (policyName: PolicyName, key: RateLimitKey) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const policy = c.var.config.rateLimits.policies[policyName];
    const identity = policy ? await key(c) : null;
    if (!policy || identity === null) return next();

    let decision: RateLimitDecision;
    try {
      decision = await ask(c, policy, identity);
    } catch (err) {
      log(policy.failClosed ? "error" : "warn", `rate limiter unavailable: failing ${policy.failClosed ? "closed" : "open"}`, {
        requestId: c.var.requestId,
        policy: policy.name,
        ...errorFields(err),
      });
      if (policy.failClosed) {
        throw new ApiError("service_unavailable", "Rate limiting is temporarily unavailable; try again shortly", [], {
          "Retry-After": String(LIMITER_UNAVAILABLE_RETRY_AFTER_SECONDS),
        });
      }
      return next();
    }

    const applied = [...(c.get("rateLimits") ?? []), { policy, decision }];
    c.set("rateLimits", applied);
    const headers = rateLimitHeaders(applied);
    if (!decision.allowed) throw tooManyRequests({ policy, decision }, headers);
    await next();
    // Outer policies run this after inner ones: always write the full, final list.
    for (const [name, value] of Object.entries(rateLimitHeaders(c.get("rateLimits") ?? applied))) c.header(name, value);
  });

// ---- Keys

/** The client's address from CF-Connecting-IP only (IPv6 by /64). */
export const byClientIp: RateLimitKey = (c) => clientIpKey(c.req.header("cf-connecting-ip"));

/** The authenticated user; mount after requireAuth. */
export const byUser: RateLimitKey = (c) => c.var.actor.userId;

/** The authenticated user's organization; mount after requireAuth. */
export const byOrganization: RateLimitKey = (c) => c.var.actor.organizationId;

/**
 * The email a login targets, trimmed and lower-cased like the validator does, hashed so no
 * address appears in object names. Reading the body through Hono's cache leaves it for the
 * validator; a body without an email skips this policy (the validator rejects it anyway). The
 * body passes the JSON gate first: once parsed here, the gate would only see the re-encoded
 * JSON, and bytes that are not UTF-8 would pass as U+FFFD.
 */
export const byLoginEmail: RateLimitKey = async (c) => {
  await assertJsonBody(c);
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    return null;
  }
  const email = typeof body === "object" && body !== null ? (body as { email?: unknown }).email : undefined;
  if (typeof email !== "string" || email.trim() === "") return null;
  return sha256Hex(email.trim().toLowerCase());
};

/**
 * The limiter every route gets: a request with a valid access token counts against its user,
 * anything else (no token, a bad or expired one) against its client IP. The token is checked
 * here from its signature alone (no database read); requireAuth reuses that verification and
 * still checks the user in D1.
 */
export const globalRateLimit = createMiddleware<AppEnv>(async (c, next) => {
  const { user, ip } = c.var.config.rateLimits.policies;
  if (!user && !ip) return next();
  // The same parse as requireAuth, so a token counts against its user exactly when it authenticates.
  const token = bearerToken(c.req.header("authorization"));
  if (token) {
    let claims: Actor | undefined;
    try {
      claims = await verifyAccessToken(token, c.var.config);
    } catch {
      // Not a valid token: the request is anonymous as far as limits go.
    }
    if (claims) {
      c.set("verifiedToken", { token, claims });
      const userId = claims.userId;
      return rateLimit("user", () => userId)(c, next);
    }
  }
  return rateLimit("ip", byClientIp)(c, next);
});
