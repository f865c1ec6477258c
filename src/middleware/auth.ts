import type { BatchItem } from "drizzle-orm/batch";
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { Role } from "../db/schema";
import type { Actor, AppEnv, Database } from "../env";
import { forbidden, unauthorized } from "../lib/errors";
import { bearerToken, verifyAccessToken } from "../lib/jwt";
import { actorFrom, actorLookup, findActor } from "../services/users";

// Methods that change nothing: their check may come with the read instead of before it.
const SAFE_METHODS = new Set(["GET", "HEAD"]);

const invalidToken = () => unauthorized("Invalid or expired access token");

/**
 * Requires a valid access token. The user and the token's session are re-read from D1 on every
 * request, so a deleted user, a changed role or an ended session takes effect at once, not when
 * the token expires.
 *
 * A write (any method but GET/HEAD) is checked before it runs. A read's check costs no round
 * trip of its own: it joins the first `db.batch` the request makes (see deferActorCheck), so a
 * list or a dashboard is one D1 round trip, check included. A read that makes no batch is
 * checked after its handler, before its response leaves. Either way a token whose user or
 * session is gone answers 401 and nothing it read is sent. Until the check has run,
 * `actor.role` is the token's; requireRole waits for the check and judges the stored role.
 */
export const requireAuth = createMiddleware<AppEnv>(async (c, next) => {
  // Mounted twice on one path (a sub-app's `*` and a route's own): the first one decides.
  if (c.get("actor")) return next();
  const token = bearerToken(c.req.header("authorization"));
  if (!token) throw unauthorized("Missing or malformed Authorization: Bearer header");
  const verified = c.get("verifiedToken");
  const claims = verified?.token === token ? verified.claims : await verifyAccessToken(token, c.var.config);
  // Every token this API issues names its session; one without is not ours to honour.
  const sessionId = claims.sessionId;
  if (!sessionId) throw invalidToken();

  if (!SAFE_METHODS.has(c.req.method)) {
    const actor = await findActor(c.var.db, claims.userId, claims.organizationId, sessionId);
    if (!actor) throw invalidToken();
    c.set("actor", actor);
    return next();
  }

  const deferred = deferActorCheck(c.var.db, { ...claims, sessionId });
  c.set("db", deferred.db);
  c.set("actor", deferred.actor);
  c.set("confirmActor", deferred.confirm);
  await next();
  // An error answer gets the check too: a dead token is 401 whatever else is wrong.
  await deferred.confirm();
});

/**
 * The actor check of a safe request, deferred. `db` is the request's database with one
 * difference: its first `batch` also runs the actor lookup, and throws 401 if it finds no
 * live user and session (after the batch, before the caller sees any row). `confirm()` runs the
 * lookup alone if no batch did, and resolves to the stored identity; `actor` is the token's
 * identity, its role updated in place once the check has run.
 */
function deferActorCheck(db: Database, claims: Actor & { sessionId: string }) {
  const actor: Actor = { ...claims };
  let check: Promise<Actor | null> | undefined;
  const settled = (found: Actor | null) => {
    if (found) actor.role = found.role;
    return found;
  };
  const lookup = () => actorLookup(db, claims.userId, claims.organizationId, claims.sessionId);

  // The request's own copy: every other method (select, insert, …) is the shared db's.
  const requestDb = Object.create(db) as Database;
  requestDb.batch = (async (statements: [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]) => {
    if (check) return db.batch(statements);
    const combined = db.batch([lookup(), ...statements]);
    check = combined.then(([rows]) => settled(actorFrom(rows, claims.sessionId)));
    // Awaited by confirm() after the handler; this keeps a D1 failure from also surfacing as
    // an unhandled rejection in the meantime.
    check.catch(() => {});
    const [, ...results] = await combined;
    if (!(await check)) throw invalidToken();
    return results;
  }) as unknown as Database["batch"];

  const confirm = async (): Promise<Actor> => {
    check ??= db.batch([lookup()]).then(([rows]) => settled(actorFrom(rows, claims.sessionId)));
    const found = await check;
    if (!found) throw invalidToken();
    return actor;
  };
  return { db: requestDb, actor, confirm };
}

/** The caller, checked against D1 (see requireAuth): what role decisions must use. */
async function confirmedActor(c: Context<AppEnv>): Promise<Actor> {
  const confirm = c.get("confirmActor");
  return confirm ? confirm() : c.var.actor;
}

const RANK: Record<Role, number> = { viewer: 0, editor: 1, admin: 2 };

/** Viewers read; editors also write dashboards and widgets; admins also manage users and sources. */
export const requireRole = (minimum: Role) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const actor = await confirmedActor(c);
    if (RANK[actor.role] < RANK[minimum]) {
      throw forbidden(`This action requires the ${minimum} role or higher`);
    }
    await next();
  });
