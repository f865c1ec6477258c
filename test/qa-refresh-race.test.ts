import { env } from "cloudflare:test";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, it } from "vitest";
import * as schema from "../src/db/schema";
import { refreshTokens } from "../src/db/schema";
import { loadConfig, type Database } from "../src/env";
import { refresh } from "../src/services/auth";
import { api, registerOrg } from "./helpers";

const db = drizzle(env.DB, { schema });

/**
 * A database whose next refresh-token insert first lets `interleave` run, the way a
 * concurrent request's reuse detection can land between a rotation's claim and its insert.
 */
function withInterleavedInsert(interleave: () => Promise<unknown>): Database {
  return new Proxy(db, {
    get(target, prop, receiver) {
      if (prop !== "insert") return Reflect.get(target, prop, receiver);
      return (table: unknown) => {
        const builder = target.insert(table as typeof refreshTokens);
        if (table !== refreshTokens) return builder;
        return {
          values: (values: typeof refreshTokens.$inferInsert) => {
            const query = builder.values(values);
            return { then: (ok: (v: unknown) => unknown, fail: (e: unknown) => unknown) => interleave().then(() => query).then(ok, fail) };
          },
        };
      };
    },
  }) as Database;
}

describe("refresh-token reuse under concurrency", () => {
  it("issues no usable token when the family is revoked between the claim and the new token", async () => {
    const admin = await registerOrg();
    const session = await api("POST", "/api/auth/login", { body: { email: admin.email, password: admin.password } });
    const token = session.body.refreshToken as string;

    // Another client presents the same token meanwhile: reuse detected, the family is revoked
    // (exactly what POST /api/auth/refresh-token does for an already-rotated token).
    const reuse = () => api("POST", "/api/auth/refresh-token", { body: { refreshToken: token } });
    let issued: string | undefined;
    try {
      issued = (await refresh(withInterleavedInsert(reuse), loadConfig(env), token)).refreshToken;
    } catch (err) {
      expect(err).toMatchObject({ code: "unauthorized" });
    }
    if (issued !== undefined) {
      const next = await api("POST", "/api/auth/refresh-token", { body: { refreshToken: issued } });
      expect(next.status).toBe(401);
    }
    const rows = await env.DB.prepare("SELECT count(*) AS live FROM refresh_tokens WHERE user_id = ? AND revoked_at IS NULL AND rotated_at IS NULL")
      .bind(admin.id)
      .first<{ live: number }>();
    // Only the registration session's token is left; the logged-in family has nothing usable.
    expect(rows?.live).toBe(1);
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
