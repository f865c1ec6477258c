import { DurableObject } from "cloudflare:workers";

/** What the Worker asks: may one more request pass under `limit` per `windowSeconds`? */
export interface ConsumeRequest {
  limit: number;
  windowSeconds: number;
  /** Tests only: the clock in epoch ms. Ignored unless the object's env sets RATE_LIMIT_TEST_CLOCK. */
  now?: number;
}

export interface RateLimitDecision {
  allowed: boolean;
  /** Requests that would still pass right now, after this one. */
  remaining: number;
  /** Milliseconds until the quota is entirely back (0 when it already is). */
  resetAfterMs: number;
  /** Milliseconds until a request would pass; 0 when this one did. */
  retryAfterMs: number;
  /** The limiter's clock (epoch ms) the decision was made at. */
  now: number;
}

// The GCRA state is one number, the theoretical arrival time (TAT) in epoch microseconds:
// integers well inside 2^53, so every comparison is exact (no float drift at the boundary).
const TAT_KEY = "tat";
const US_PER_MS = 1000;

/**
 * Generic cell rate algorithm: each request moves the TAT forward by one emission interval
 * T = window / limit; a request passes while the TAT stays within `limit` intervals of now,
 * so up to `limit` may burst and the quota refills smoothly. Pure, so tests can check it
 * alone; a denied request changes nothing (only allowed requests consume quota).
 */
export function gcra(storedTat: number | undefined, nowUs: number, limit: number, windowSeconds: number) {
  const interval = Math.ceil((windowSeconds * 1_000_000) / limit);
  const capacity = interval * limit;
  const tat = Math.max(storedTat ?? nowUs, nowUs);
  const nextTat = tat + interval;
  if (nextTat - nowUs > capacity) {
    return {
      tat: undefined,
      decision: {
        allowed: false,
        remaining: 0,
        resetAfterMs: Math.ceil((tat - nowUs) / US_PER_MS),
        retryAfterMs: Math.ceil((nextTat - nowUs - capacity) / US_PER_MS),
      },
    };
  }
  return {
    tat: nextTat,
    decision: {
      allowed: true,
      remaining: limit - Math.ceil((nextTat - nowUs) / interval),
      resetAfterMs: Math.ceil((nextTat - nowUs) / US_PER_MS),
      retryAfterMs: 0,
    },
  };
}

/** How far ahead of the true TAT a write goes: floor(1% of the limit) emission intervals. */
function leadUs(limit: number, windowSeconds: number): number {
  return Math.floor(limit / 100) * Math.ceil((windowSeconds * 1_000_000) / limit);
}

/**
 * One object per rate-limit key (named e.g. `login-email:<hash>`), so load spreads over many
 * objects. `consume` never awaits between reading and writing the TAT: with the object's
 * input gate that makes each call atomic, so concurrent requests can never overshoot.
 *
 * The TAT lives in memory; storage holds a value at least as late, so a restart never makes
 * a key looser. A write stores the new TAT plus a lead of 1% of the quota (whole requests),
 * so a busy key writes about once per lead instead of once per request, and a restart can
 * cost it at most 1% of its quota. Policies under 100 requests per window (login, register,
 * password) get no lead: every allowed request is persisted exactly.
 */
export class RateLimiter extends DurableObject<Env> {
  private tat: number | undefined;
  private persistedTat: number | undefined;
  private loaded = false;
  // Whether this instance has already scheduled the idle-cleanup alarm (reset on eviction,
  // which at worst re-schedules it once).
  private alarmScheduled = false;

  consume(request: ConsumeRequest): RateLimitDecision {
    const now = this.clock(request.now);
    this.load();
    const { tat, decision } = gcra(this.tat, now * US_PER_MS, request.limit, request.windowSeconds);
    if (tat !== undefined) {
      this.tat = tat;
      if (this.persistedTat === undefined || tat > this.persistedTat) {
        this.persistedTat = tat + leadUs(request.limit, request.windowSeconds);
        // Synchronous write; the output gate holds every reply until it is durable.
        this.ctx.storage.kv.put(TAT_KEY, this.persistedTat);
        if (!this.alarmScheduled) {
          this.alarmScheduled = true;
          void this.ctx.storage.setAlarm(Math.ceil(this.persistedTat / US_PER_MS));
        }
      }
    }
    return { ...decision, now };
  }

  /** Deletes the key's state once the quota is full again (then it equals no state at all). */
  override async alarm(): Promise<void> {
    this.load();
    const tatMs = this.persistedTat === undefined ? 0 : Math.ceil(this.persistedTat / US_PER_MS);
    if (tatMs > Date.now()) {
      await this.ctx.storage.setAlarm(tatMs);
      return;
    }
    this.tat = this.persistedTat = undefined;
    this.alarmScheduled = false;
    await this.ctx.storage.deleteAll();
  }

  private load(): void {
    if (this.loaded) return;
    this.tat = this.persistedTat = this.ctx.storage.kv.get<number>(TAT_KEY);
    this.loaded = true;
  }

  private clock(injected: number | undefined): number {
    if (injected !== undefined && this.env.RATE_LIMIT_TEST_CLOCK === "true") return injected;
    return Date.now();
  }
}
