import { env } from "cloudflare:test";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, it } from "vitest";
import * as schema from "../src/db/schema";
import { loadConfig, type Database } from "../src/env";
import { refresh } from "../src/services/auth";
import { api, expectError, registerOrg } from "./helpers";

const db = drizzle(env.DB, { schema });

/**
 * A database whose next batch (the rotation's claim + new token) runs with `interleave` just
 * before or just after it, the way a concurrent request's reuse detection can land around it.
 */
function withInterleavedBatch(interleave: () => Promise<unknown>, when: "before" | "after"): Database {
  return new Proxy(db, {
    get(target, prop, receiver) {
      if (prop !== "batch") return Reflect.get(target, prop, receiver);
      return async (queries: Parameters<Database["batch"]>[0]) => {
        if (when === "before") await interleave();
        const results = await target.batch(queries);
        if (when === "after") await interleave();
        return results;
      };
    },
  }) as Database;
}

const liveTokens = async (userId: string) =>
  (await env.DB.prepare("SELECT count(*) AS live FROM refresh_tokens WHERE user_id = ? AND revoked_at IS NULL AND rotated_at IS NULL")
    .bind(userId)
    .first<{ live: number }>())!.live;

describe("refresh-token reuse under concurrency", () => {
  for (const when of ["before", "after"] as const) {
    it(`issues no usable token when the family is revoked just ${when} the rotation's batch`, async () => {
      const admin = await registerOrg();
      const session = await api("POST", "/api/auth/login", { body: { email: admin.email, password: admin.password } });
      const stolen = session.body.refreshToken as string;
      const rotated = await api("POST", "/api/auth/refresh-token", { body: { refreshToken: stolen } });
      expect(rotated.status).toBe(200);

      // A thief presents the already-rotated token meanwhile: reuse detected, the family is revoked.
      const reuse = async () => expect((await api("POST", "/api/auth/refresh-token", { body: { refreshToken: stolen } })).status).toBe(401);
      let issued: string | undefined;
      try {
        issued = (await refresh(withInterleavedBatch(reuse, when), loadConfig(env), rotated.body.refreshToken)).refreshToken;
      } catch (err) {
        expect(err).toMatchObject({ code: "unauthorized" });
      }
      if (issued !== undefined) {
        expectError(await api("POST", "/api/auth/refresh-token", { body: { refreshToken: issued } }), 401, "unauthorized");
      }
      // Only the registration session's token is left; the logged-in family has nothing usable.
      expect(await liveTokens(admin.id)).toBe(1);
    });
  }

  it("two concurrent rotations of one token: at most one succeeds and the family ends up revoked or single", async () => {
    const admin = await registerOrg();
    const results = await Promise.all([0, 1].map(() => api("POST", "/api/auth/refresh-token", { body: { refreshToken: admin.refreshToken } })));
    const ok = results.filter((r) => r.status === 200);
    expect(ok.length).toBeLessThanOrEqual(1);
    for (const r of results) if (r.status !== 200) expectError(r, 401, "unauthorized");
    // The loser's claim missed, which counts as reuse: the whole family is revoked.
    expect(await liveTokens(admin.id)).toBe(0);
  });

  it("still rotates normally: the new token works, the old one is reuse", async () => {
    const admin = await registerOrg();
    const first = await api("POST", "/api/auth/refresh-token", { body: { refreshToken: admin.refreshToken } });
    expect(first.status).toBe(200);
    const second = await api("POST", "/api/auth/refresh-token", { body: { refreshToken: first.body.refreshToken } });
    expect(second.status).toBe(200);
    expect((await api("POST", "/api/auth/refresh-token", { body: { refreshToken: admin.refreshToken } })).status).toBe(401);
    expect((await api("POST", "/api/auth/refresh-token", { body: { refreshToken: second.body.refreshToken } })).status).toBe(401);
  });
});
