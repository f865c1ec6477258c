import type { DrizzleD1Database } from "drizzle-orm/d1";
import type { Role } from "./db/schema";
import { parseRateLimitConfig, type AppliedLimit, type RateLimitConfig } from "./lib/rate-limit";
import type { EventPublisher } from "./services/events";
import type * as schema from "./db/schema";

// What drizzle(d1, { schema }) returns: the client (the D1 binding) included.
export type Database = DrizzleD1Database<typeof schema> & { $client: D1Database };

/** The authenticated caller, from a verified access token. */
export interface Actor {
  userId: string;
  organizationId: string;
  role: Role;
  /** The refresh-token family (login session) the access token was issued for. */
  sessionId?: string;
}

/** Settings read once from `[vars]` and secrets; handlers never read `env` strings directly. */
export interface Config {
  registrationEnabled: boolean;
  jwtSecret: Uint8Array;
  jwtIssuer: string;
  jwtAudience: string;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  encryptionKey: Uint8Array;
  maxBodyBytes: number;
  corsOrigins: string[];
  allowPrivateNetworkTargets: boolean;
  rateLimits: RateLimitConfig;
  /** Upper bound for one data-source connection test, socket closed after it. */
  testConnectionTimeoutMs: number;
  webhooks: WebhookConfig;
  /** Widget data: statement timeout, row cap, and the dashboard view's overall deadline. */
  queryTimeoutMs: number;
  queryMaxRows: number;
  /** Bytes of JSON rows per widget result at most (truncated beyond). */
  queryMaxBytes: number;
  widgetDataDeadlineMs: number;
}

export interface WebhookConfig {
  /** Seconds before retry n+1 after attempt n fails; its length + 1 is the attempt limit. */
  retrySchedule: number[];
  timeoutMs: number;
  sweepGraceSeconds: number;
  disableAfterFailures: number;
  deadLetterQueue: string;
}

/** The Queue's longest delay for a message or a retry (12 hours). */
export const MAX_QUEUE_DELAY_SECONDS = 43_200;

export type AppEnv = {
  Bindings: Env;
  Variables: {
    requestId: string;
    config: Config;
    db: Database;
    actor: Actor;
    /** Where dashboard/widget changes are committed with their events (webhooks plug in here). */
    events: EventPublisher;
    /** The rate-limit policies that judged this request so far (for the response headers). */
    rateLimits?: AppliedLimit[];
    /**
     * On a GET/HEAD: resolves to the actor once the D1 check has run (with the read's batch, or
     * alone), throws 401 if the user or session is gone (middleware/auth.ts).
     */
    confirmActor?: () => Promise<Actor>;
    /** An access token the global rate limiter already verified, so requireAuth need not redo it. */
    verifiedToken?: { token: string; claims: Actor };
    /** The built-in sample data source's database (widget data). */
    sampleDb: D1Database;
  };
};

export class ConfigError extends Error {
  override name = "ConfigError";
}

const MIN_SECRET_LENGTH = 32;

function bool(value: string | undefined, fallback: boolean): boolean {
  if (value === undefined || value === "") return fallback;
  return value === "true" || value === "1";
}

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new ConfigError(`${name} must be a positive integer, got "${value}"`);
  return n;
}

function nonNegativeInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(`${name} must be a non-negative integer, got "${value}"`);
  return n;
}

/** "5,300,1800" → [5, 300, 1800], each capped at the Queue's maximum delay. */
function retrySchedule(value: string | undefined): number[] {
  const text = value === undefined || value.trim() === "" ? "5,300,1800,7200,18000,36000,36000" : value;
  return text.split(",").map((part) => {
    const seconds = Number(part.trim());
    if (part.trim() === "" || !Number.isInteger(seconds) || seconds < 0) {
      throw new ConfigError(`WEBHOOK_RETRY_SCHEDULE must be comma-separated whole seconds, got "${text}"`);
    }
    return Math.min(seconds, MAX_QUEUE_DELAY_SECONDS);
  });
}

function decodeBase64(value: string): Uint8Array {
  try {
    return Uint8Array.from(atob(value), (ch) => ch.charCodeAt(0));
  } catch {
    return new Uint8Array();
  }
}

function rateLimitConfig(env: Env): RateLimitConfig {
  try {
    return parseRateLimitConfig(env);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

// Parsed once per isolate: `env` does not change while an isolate lives.
let cached: { env: Env; config: Config } | undefined;

/** Parses and checks the Worker's settings; throws ConfigError for a missing or weak secret. */
export function loadConfig(env: Env): Config {
  if (cached?.env === env) return cached.config;
  const jwtSecret = env.JWT_SECRET ?? "";
  if (jwtSecret.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(`JWT_SECRET is missing or shorter than ${MIN_SECRET_LENGTH} characters`);
  }
  const encryptionKey = decodeBase64(env.ENCRYPTION_KEY ?? "");
  if (encryptionKey.length !== 32) {
    throw new ConfigError("ENCRYPTION_KEY is missing or is not the base64 of exactly 32 bytes");
  }
  const config: Config = {
    registrationEnabled: bool(env.REGISTRATION_ENABLED, true),
    jwtSecret: new TextEncoder().encode(jwtSecret),
    jwtIssuer: env.JWT_ISSUER || "edgeboard",
    jwtAudience: env.JWT_AUDIENCE || "edgeboard-api",
    accessTokenTtlSeconds: positiveInt("ACCESS_TOKEN_TTL_SECONDS", env.ACCESS_TOKEN_TTL_SECONDS, 3600),
    refreshTokenTtlSeconds: positiveInt("REFRESH_TOKEN_TTL_DAYS", env.REFRESH_TOKEN_TTL_DAYS, 30) * 86_400,
    encryptionKey,
    maxBodyBytes: positiveInt("MAX_BODY_BYTES", env.MAX_BODY_BYTES, 1_048_576),
    corsOrigins: (env.CORS_ORIGINS ?? "").split(",").map((s) => s.trim()).filter(Boolean),
    allowPrivateNetworkTargets: bool(env.ALLOW_PRIVATE_NETWORK_TARGETS, false),
    rateLimits: rateLimitConfig(env),
    testConnectionTimeoutMs: positiveInt("TEST_CONNECTION_TIMEOUT_MS", env.TEST_CONNECTION_TIMEOUT_MS, 10_000),
    webhooks: {
      retrySchedule: retrySchedule(env.WEBHOOK_RETRY_SCHEDULE),
      timeoutMs: positiveInt("WEBHOOK_TIMEOUT_MS", env.WEBHOOK_TIMEOUT_MS, 10_000),
      sweepGraceSeconds: nonNegativeInt("WEBHOOK_SWEEP_GRACE_SECONDS", env.WEBHOOK_SWEEP_GRACE_SECONDS, 300),
      disableAfterFailures: positiveInt("WEBHOOK_DISABLE_AFTER_FAILURES", env.WEBHOOK_DISABLE_AFTER_FAILURES, 5),
      deadLetterQueue: env.WEBHOOK_DEAD_LETTER_QUEUE || "edgeboard-webhooks-dlq",
    },
    queryTimeoutMs: positiveInt("QUERY_TIMEOUT_MS", env.QUERY_TIMEOUT_MS, 15_000),
    queryMaxRows: positiveInt("QUERY_MAX_ROWS", env.QUERY_MAX_ROWS, 5_000),
    queryMaxBytes: positiveInt("QUERY_MAX_BYTES", env.QUERY_MAX_BYTES, 4_000_000),
    widgetDataDeadlineMs: positiveInt("WIDGET_DATA_DEADLINE_MS", env.WIDGET_DATA_DEADLINE_MS, 20_000),
  };
  cached = { env, config };
  return config;
}
