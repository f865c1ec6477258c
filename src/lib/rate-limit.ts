// Rate-limit policies, their settings from [vars], client-IP keys and the response headers.
// The counting itself lives in the RateLimiter Durable Object (src/durable-objects/).
import type { RateLimitDecision } from "../durable-objects/rate-limiter";

declare global {
  namespace Cloudflare {
    interface Env {
      /** Test suites only: lets the limiter take its clock from RATE_LIMIT_TEST_NOW. Never set in wrangler.toml. */
      RATE_LIMIT_TEST_CLOCK?: string;
      /** Test suites only: the limiter's clock in epoch ms (honoured only with RATE_LIMIT_TEST_CLOCK). */
      RATE_LIMIT_TEST_NOW?: string;
    }
  }
}

interface PolicyDefinition {
  /** The policy's name in the RateLimit headers and in Durable Object names. */
  name: string;
  envVar: keyof Env;
  fallback: string;
  /** When the limiter cannot answer: refuse with 503 (true) or let the request through (false). */
  failClosed: boolean;
}

export const POLICY_DEFINITIONS = {
  user: { name: "user", envVar: "RATE_LIMIT_USER", fallback: "600/60", failClosed: false },
  ip: { name: "ip", envVar: "RATE_LIMIT_IP", fallback: "60/60", failClosed: false },
  loginIp: { name: "login-ip", envVar: "RATE_LIMIT_LOGIN_IP", fallback: "20/60", failClosed: true },
  loginEmail: { name: "login-email", envVar: "RATE_LIMIT_LOGIN_EMAIL", fallback: "10/900", failClosed: true },
  registerIp: { name: "register-ip", envVar: "RATE_LIMIT_REGISTER_IP", fallback: "5/3600", failClosed: true },
  passwordIp: { name: "password-ip", envVar: "RATE_LIMIT_PASSWORD_IP", fallback: "5/3600", failClosed: true },
  dataSourceTestOrg: {
    name: "datasource-test-org",
    envVar: "RATE_LIMIT_DATASOURCE_TEST_ORG",
    fallback: "30/60",
    failClosed: false,
  },
} as const satisfies Record<string, PolicyDefinition>;

export type PolicyName = keyof typeof POLICY_DEFINITIONS;

export interface RateLimitPolicy {
  name: string;
  limit: number;
  windowSeconds: number;
  failClosed: boolean;
}

export interface RateLimitConfig {
  /** `null` for a policy whose limit is 0 (turned off). */
  policies: Record<PolicyName, RateLimitPolicy | null>;
  timeoutMs: number;
  /** Tests only: the injected clock passed to the limiter. */
  testNow?: number;
}

const POLICY_FORMAT = /^(\d+)(?:\/(\d+))?$/;

/** "<limit>/<window seconds>"; "0" (or "0/<anything>") turns the policy off. */
export function parsePolicy(envVar: string, value: string): { limit: number; windowSeconds: number } | null {
  const match = POLICY_FORMAT.exec(value.trim());
  const limit = Number(match?.[1]);
  const windowSeconds = Number(match?.[2]);
  if (match && limit === 0) return null;
  if (!match || !Number.isSafeInteger(limit) || !Number.isSafeInteger(windowSeconds) || windowSeconds <= 0) {
    throw new Error(`${envVar} must look like "<limit>/<window seconds>" (e.g. "60/60") or "0", got "${value}"`);
  }
  return { limit, windowSeconds };
}

/** Reads every policy from env; throws (the caller turns it into ConfigError) on a bad value. */
export function parseRateLimitConfig(env: Env): RateLimitConfig {
  const policies = {} as Record<PolicyName, RateLimitPolicy | null>;
  for (const [key, def] of Object.entries(POLICY_DEFINITIONS) as [PolicyName, PolicyDefinition][]) {
    const raw = env[def.envVar];
    const parsed = parsePolicy(def.envVar, typeof raw === "string" && raw !== "" ? raw : def.fallback);
    policies[key] = parsed && { name: def.name, failClosed: def.failClosed, ...parsed };
  }
  const timeoutMs = Number(env.RATE_LIMIT_TIMEOUT_MS || 500);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    throw new Error(`RATE_LIMIT_TIMEOUT_MS must be a positive integer, got "${env.RATE_LIMIT_TIMEOUT_MS}"`);
  }
  const config: RateLimitConfig = { policies, timeoutMs };
  if (env.RATE_LIMIT_TEST_CLOCK === "true" && env.RATE_LIMIT_TEST_NOW) config.testNow = Number(env.RATE_LIMIT_TEST_NOW);
  return config;
}

// ---- Client IPs. Only CF-Connecting-IP counts: Cloudflare sets it from the TCP peer and
// overwrites any client-sent value; X-Forwarded-For and friends are the client's to forge.

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function ipv4(text: string): string | null {
  const m = IPV4.exec(text);
  if (!m) return null;
  const octets = m.slice(1).map(Number);
  return octets.every((o) => o <= 255) ? octets.join(".") : null;
}

/** The eight 16-bit groups of an IPv6 address, or null when it is not one. */
function ipv6Groups(text: string): number[] | null {
  const address = text.split("%")[0]!; // drop a zone id
  const halves = address.split("::");
  if (halves.length > 2) return null;
  const parse = (part: string): number[] | null => {
    if (part === "") return [];
    const out: number[] = [];
    const pieces = part.split(":");
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!;
      if (i === pieces.length - 1 && piece.includes(".")) {
        const v4 = ipv4(piece);
        if (!v4) return null;
        const [a, b, c, d] = v4.split(".").map(Number) as [number, number, number, number];
        out.push((a << 8) | b, (c << 8) | d);
      } else if (/^[0-9a-f]{1,4}$/i.test(piece)) {
        out.push(parseInt(piece, 16));
      } else {
        return null;
      }
    }
    return out;
  };
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  if (!head || !tail) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const missing = 8 - head.length - tail.length;
  return missing >= 1 ? [...head, ...new Array<number>(missing).fill(0), ...tail] : null;
}

/**
 * The bucket a client address lands in: an IPv4 address as is, an IPv6 address collapsed to
 * its /64 (one subscriber usually holds a whole /64), IPv4-mapped IPv6 as its IPv4 address.
 * A missing or unparseable value shares the single "unknown" bucket.
 */
export function clientIpKey(header: string | undefined): string {
  const text = (header ?? "").trim().toLowerCase();
  const v4 = ipv4(text);
  if (v4) return v4;
  const groups = ipv6Groups(text);
  if (!groups) return "unknown";
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join(".");
  }
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(":")}::/64`;
}

// ---- Response headers (draft-ietf-httpapi-ratelimit-headers, plus the X-RateLimit-* trio).

export interface AppliedLimit {
  policy: RateLimitPolicy;
  decision: RateLimitDecision;
}

const seconds = (ms: number) => Math.ceil(ms / 1000);

/**
 * Headers for every policy that judged the request. The IETF fields list each policy; the
 * single-valued X-RateLimit-* fields describe the tightest one (the one that refused, else
 * the one with the fewest requests left).
 */
export function rateLimitHeaders(applied: readonly AppliedLimit[]): Record<string, string> {
  if (applied.length === 0) return {};
  const tightest = applied.reduce((a, b) => {
    if (a.decision.allowed !== b.decision.allowed) return a.decision.allowed ? b : a;
    return b.decision.remaining < a.decision.remaining ? b : a;
  });
  const { policy, decision } = tightest;
  return {
    "RateLimit-Policy": applied.map((a) => `"${a.policy.name}";q=${a.policy.limit};w=${a.policy.windowSeconds}`).join(", "),
    RateLimit: applied.map((a) => `"${a.policy.name}";r=${a.decision.remaining};t=${seconds(a.decision.resetAfterMs)}`).join(", "),
    "X-RateLimit-Limit": String(policy.limit),
    "X-RateLimit-Remaining": String(decision.remaining),
    "X-RateLimit-Reset": String(seconds(decision.now + decision.resetAfterMs)),
  };
}

export const RATE_LIMIT_HEADER_NAMES = [
  "RateLimit-Policy",
  "RateLimit",
  "X-RateLimit-Limit",
  "X-RateLimit-Remaining",
  "X-RateLimit-Reset",
] as const;
export type RateLimitHeaderName = (typeof RATE_LIMIT_HEADER_NAMES)[number];
