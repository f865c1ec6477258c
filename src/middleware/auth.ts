import { createMiddleware } from "hono/factory";
import type { Role } from "../db/schema";
import type { AppEnv } from "../env";
import { forbidden, unauthorized } from "../lib/errors";
import { bearerToken, verifyAccessToken } from "../lib/jwt";
import { findActor } from "../services/users";

/**
 * Requires a valid access token. The user and the token's session are re-read from D1 (one
 * primary-key lookup) so a deleted user, a changed role or an ended session takes effect at once,
 * not when the token expires.
 */
export const requireAuth = createMiddleware<AppEnv>(async (c, next) => {
  const token = bearerToken(c.req.header("authorization"));
  if (!token) throw unauthorized("Missing or malformed Authorization: Bearer header");
  const verified = c.get("verifiedToken");
  const claims = verified?.token === token ? verified.claims : await verifyAccessToken(token, c.var.config);
  // Every token this API issues names its session; one without is not ours to honour.
  const actor = claims.sessionId ? await findActor(c.var.db, claims.userId, claims.organizationId, claims.sessionId) : null;
  if (!actor) throw unauthorized("Invalid or expired access token");
  c.set("actor", actor);
  await next();
});

const RANK: Record<Role, number> = { viewer: 0, editor: 1, admin: 2 };

/** Viewers read; editors also write dashboards and widgets; admins also manage users and sources. */
export const requireRole = (minimum: Role) =>
  createMiddleware<AppEnv>(async (c, next) => {
    if (RANK[c.var.actor.role] < RANK[minimum]) {
      throw forbidden(`This action requires the ${minimum} role or higher`);
    }
    await next();
  });
