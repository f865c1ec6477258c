import { and, eq, ne, sql } from "drizzle-orm";
import { prepared } from "../db/prepared";
import { refreshTokens, users, type User } from "../db/schema";
import type { Actor, Database } from "../env";
import { hashPassword, verifyPassword } from "../lib/crypto";
import { ApiError, conflict, notFound } from "../lib/errors";
import { offsetOf, pageOf, selectPage } from "../lib/pagination";
import { isUniqueViolation, orderWithTieBreak } from "../lib/sql";
import { nowIso } from "../lib/time";
import type { CreateUserInput, ListUsersQuery, UpdateMeInput, UpdateUserInput, UserResponse } from "../schemas/users";

/** The one place a user becomes a response: the password hash cannot get out. */
export function toUserResponse(user: User): UserResponse {
  return {
    id: user.id,
    email: user.email,
    firstName: user.firstName,
    lastName: user.lastName,
    role: user.role,
    createdAt: user.createdAt,
    updatedAt: user.updatedAt,
  };
}

/**
 * The current identity behind a token: one row if the user still exists in the token's
 * organization and the login session the token was issued for is live, none if the user is
 * gone or moved or the session has ended (logout, a password change elsewhere, refresh-token
 * reuse): an access token dies with its session, not only when it expires. A query, not a
 * result, so it can ride in the same D1 batch as a read (middleware/auth.ts).
 */
export function actorLookup(db: Database, userId: string, organizationId: string, sessionId: string) {
  return actorQuery(db, "actor", { userId, organizationId, sessionId });
}

// Every authenticated request makes it: built once (src/db/prepared.ts).
const actorQuery = prepared((db) =>
  db
    .select({ userId: users.id, organizationId: users.organizationId, role: users.role })
    .from(users)
    .where(
      and(
        eq(users.id, sql.placeholder("userId")),
        eq(users.organizationId, sql.placeholder("organizationId")),
        sql`EXISTS (SELECT 1 FROM ${refreshTokens} WHERE ${refreshTokens.familyId} = ${sql.placeholder("sessionId")} AND ${refreshTokens.userId} = ${users.id} AND ${refreshTokens.revokedAt} IS NULL)`,
      ),
    )
    .limit(1),
);

/** actorLookup's rows as the actor, or null. */
export function actorFrom(rows: Omit<Actor, "sessionId">[], sessionId: string): Actor | null {
  const row = rows[0];
  return row ? { ...row, sessionId } : null;
}

export async function findActor(db: Database, userId: string, organizationId: string, sessionId: string): Promise<Actor | null> {
  const [rows] = await db.batch([actorLookup(db, userId, organizationId, sessionId)]);
  return actorFrom(rows, sessionId);
}

export async function getUser(db: Database, actor: Actor, id: string): Promise<User> {
  // A batch of one, so a read's actor check joins it (GET /api/users/me: one round trip).
  const [[user]] = await db.batch([db.select().from(users).where(and(eq(users.id, id), eq(users.organizationId, actor.organizationId)))]);
  if (!user) throw notFound("User");
  return user;
}

const USER_SORT = { email: users.email, createdAt: users.createdAt, updatedAt: users.updatedAt } as const;

export async function listUsers(db: Database, actor: Actor, query: ListUsersQuery) {
  const where = and(eq(users.organizationId, actor.organizationId), query.role ? eq(users.role, query.role) : undefined);
  const order = orderWithTieBreak(USER_SORT[query.sort.field], users.id, query.sort.direction);
  const { rows, total } = await selectPage(db, users, where, order, { limit: query.limit, offset: offsetOf(query.page, query.limit) });
  return pageOf(rows.map(toUserResponse), total, query.page, query.limit);
}

export async function createUser(db: Database, actor: Actor, input: CreateUserInput): Promise<User> {
  const now = nowIso();
  const user: User = {
    id: crypto.randomUUID(),
    organizationId: actor.organizationId,
    email: input.email,
    passwordHash: await hashPassword(input.password),
    firstName: input.firstName,
    lastName: input.lastName,
    role: input.role,
    createdAt: now,
    updatedAt: now,
  };
  try {
    await db.insert(users).values(user);
  } catch (err) {
    if (isUniqueViolation(err)) throw emailTaken();
    throw err;
  }
  return user;
}

export const emailTaken = () =>
  conflict("An account with this email already exists", [{ field: "email", message: "Email is already registered" }]);

export async function updateMe(db: Database, actor: Actor, input: UpdateMeInput): Promise<User> {
  return updateUser(db, actor, actor.userId, input);
}

// The guard that keeps an organization with at least one admin, as part of the write itself so
// two concurrent demotions cannot both pass a separate check.
const keepsAnAdmin = (organizationId: string) =>
  sql`(${users.role} <> 'admin' OR (SELECT count(*) FROM ${users} WHERE ${users.organizationId} = ${organizationId} AND ${users.role} = 'admin') > 1)`;

const lastAdmin = () => conflict("An organization must keep at least one admin");

export async function updateUser(db: Database, actor: Actor, id: string, input: UpdateUserInput): Promise<User> {
  const existing = await getUser(db, actor, id);
  const changes = { ...stripUndefined(input), updatedAt: nowIso() };
  const demoting = input.role !== undefined && input.role !== "admin" && existing.role === "admin";
  const updated = await db
    .update(users)
    .set(changes)
    .where(and(eq(users.id, id), eq(users.organizationId, actor.organizationId), demoting ? keepsAnAdmin(actor.organizationId) : undefined))
    .returning()
    .get();
  if (!updated) throw demoting ? lastAdmin() : notFound("User");
  return updated;
}

export async function deleteUser(db: Database, actor: Actor, id: string): Promise<void> {
  const existing = await getUser(db, actor, id);
  const deleted = await db
    .delete(users)
    .where(and(eq(users.id, id), eq(users.organizationId, actor.organizationId), keepsAnAdmin(actor.organizationId)))
    .returning({ id: users.id })
    .get();
  if (!deleted) throw existing.role === "admin" ? lastAdmin() : notFound("User");
}

/** Changes the caller's password and signs out every other session of theirs. */
export async function changePassword(
  db: Database,
  actor: Actor,
  input: { currentPassword: string; newPassword: string },
  keepSessionId: string | undefined,
): Promise<void> {
  const user = await getUser(db, actor, actor.userId);
  if (!(await verifyPassword(input.currentPassword, user.passwordHash))) {
    throw new ApiError("invalid_credentials", "Current password is incorrect");
  }
  const now = nowIso();
  await db.batch([
    db
      .update(users)
      .set({ passwordHash: await hashPassword(input.newPassword), updatedAt: now })
      .where(and(eq(users.id, user.id), eq(users.organizationId, actor.organizationId))),
    db
      .update(refreshTokens)
      .set({ revokedAt: now })
      .where(
        and(
          eq(refreshTokens.userId, user.id),
          sql`${refreshTokens.revokedAt} IS NULL`,
          keepSessionId ? ne(refreshTokens.familyId, keepSessionId) : undefined,
        ),
      ),
  ]);
}

export function stripUndefined<T extends Record<string, unknown>>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
