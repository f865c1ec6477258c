import { and, eq, getTableColumns, isNull, sql, type SQL } from "drizzle-orm";
import { organizations, refreshTokens, users, type RefreshToken, type User } from "../db/schema";
import type { Config, Database } from "../env";
import { dummyPasswordHash, generateToken, hashPassword, sha256Hex, verifyPassword } from "../lib/crypto";
import { ApiError, forbidden, unauthorized } from "../lib/errors";
import { signAccessToken } from "../lib/jwt";
import { isUniqueViolation } from "../lib/sql";
import { nowIso } from "../lib/time";
import type { LoginInput, RegisterInput, Session, TokenPair } from "../schemas/auth";
import { emailTaken } from "./users";

const invalidCredentials = () => new ApiError("invalid_credentials", "Invalid email or password");
const invalidRefreshToken = () => unauthorized("Invalid or expired refresh token");

/** Creates a new organization whose first user is its admin, and signs them in. */
export async function register(db: Database, config: Config, input: RegisterInput): Promise<Session> {
  if (!config.registrationEnabled) throw forbidden("Registration is disabled on this server");
  const now = nowIso();
  const organizationId = crypto.randomUUID();
  const user: User = {
    id: crypto.randomUUID(),
    organizationId,
    email: input.email,
    passwordHash: await hashPassword(input.password),
    firstName: input.firstName,
    lastName: input.lastName,
    role: "admin",
    createdAt: now,
    updatedAt: now,
  };
  // The organization, its admin and the admin's first session are one batch: a failure leaves
  // no account behind that the caller was told was not created.
  const session = await newSession(config, user, crypto.randomUUID());
  try {
    await db.batch([
      db.insert(organizations).values({
        id: organizationId,
        name: input.organizationName ?? `${input.firstName} ${input.lastName}'s organization`,
        createdAt: now,
        updatedAt: now,
      }),
      db.insert(users).values(user),
      db.insert(refreshTokens).values(session.row),
    ]);
  } catch (err) {
    if (isUniqueViolation(err)) throw emailTaken();
    throw err;
  }
  return session.response;
}

export async function login(db: Database, config: Config, input: LoginInput): Promise<Session> {
  const user = await db.select().from(users).where(eq(users.email, input.email)).get();
  // Unknown emails hash against a dummy so both failures take the same time.
  const valid = await verifyPassword(input.password, user?.passwordHash ?? (await dummyPasswordHash()));
  if (!user || !valid) throw invalidCredentials();
  const session = await newSession(config, user, crypto.randomUUID());
  await db.insert(refreshTokens).values(session.row);
  return session.response;
}

/**
 * A session's tokens and the refresh-token row to store for it. Nothing is written here: the
 * caller puts the row into the same write (or batch) as whatever else the session depends on.
 */
async function newSession(config: Config, user: User, familyId: string): Promise<{ row: RefreshToken; response: Session }> {
  const refreshToken = generateToken();
  const now = Date.now();
  const row: RefreshToken = {
    id: crypto.randomUUID(),
    userId: user.id,
    familyId,
    tokenHash: await sha256Hex(refreshToken),
    expiresAt: nowIso(now + config.refreshTokenTtlSeconds * 1000),
    createdAt: nowIso(now),
    rotatedAt: null,
    revokedAt: null,
  };
  const accessToken = await signAccessToken(
    { userId: user.id, organizationId: user.organizationId, role: user.role, sessionId: familyId },
    config,
  );
  return {
    row,
    response: {
      accessToken,
      refreshToken,
      expiresIn: config.accessTokenTtlSeconds,
      user: { id: user.id, email: user.email, firstName: user.firstName, lastName: user.lastName, role: user.role },
    },
  };
}

/** INSERT of `row` that happens only if `condition` holds when the statement runs (in a batch). */
function insertRefreshTokenIf(db: Database, row: RefreshToken, condition: SQL) {
  const values = Object.keys(getTableColumns(refreshTokens)).map((field) => {
    const value = row[field as keyof RefreshToken];
    return value === null ? sql`NULL` : sql`${value}`;
  });
  return db.insert(refreshTokens).select(sql`SELECT ${sql.join(values, sql`, `)} WHERE ${condition}`);
}

async function revokeFamily(db: Database, familyId: string): Promise<void> {
  await db
    .update(refreshTokens)
    .set({ revokedAt: nowIso() })
    .where(and(eq(refreshTokens.familyId, familyId), isNull(refreshTokens.revokedAt)));
}

/**
 * Rotates a refresh token. A token that was already rotated (or revoked) is a sign it was
 * stolen: the whole family is revoked, so both the thief and the owner must log in again.
 */
export async function refresh(db: Database, config: Config, token: string): Promise<TokenPair> {
  const row = await db
    .select()
    .from(refreshTokens)
    .where(eq(refreshTokens.tokenHash, await sha256Hex(token)))
    .get();
  if (!row) throw invalidRefreshToken();
  if (row.rotatedAt || row.revokedAt) {
    await revokeFamily(db, row.familyId);
    throw invalidRefreshToken();
  }
  if (row.expiresAt <= nowIso()) throw invalidRefreshToken();

  const user = await db.select().from(users).where(eq(users.id, row.userId)).get();
  if (!user) throw invalidRefreshToken();

  // The claim and the new token are one batch, so the rotation happens whole or not at all: a
  // failure leaves the presented token usable for a retry. Of two concurrent rotations only one
  // claim changes a row, and the new token is inserted only after a claim that did (changes()
  // reports the statement just before). A reuse detection revokes the whole family, the claimed
  // token included, so one that lands before the batch makes the claim miss and one after it
  // also revokes the new token: no token outlives its family.
  const next = await newSession(config, user, row.familyId);
  const [claimed] = await db.batch([
    db
      .update(refreshTokens)
      .set({ rotatedAt: nowIso() })
      .where(and(eq(refreshTokens.id, row.id), isNull(refreshTokens.rotatedAt), isNull(refreshTokens.revokedAt)))
      .returning({ id: refreshTokens.id }),
    insertRefreshTokenIf(db, next.row, sql`changes() = 1`),
  ]);
  if (claimed.length === 0) {
    await revokeFamily(db, row.familyId);
    throw invalidRefreshToken();
  }
  const { accessToken, expiresIn, refreshToken } = next.response;
  return { accessToken, expiresIn, refreshToken };
}

/** Ends the session the refresh token belongs to. Unknown tokens are ignored (idempotent). */
export async function logout(db: Database, token: string): Promise<void> {
  const row = await db
    .select({ familyId: refreshTokens.familyId })
    .from(refreshTokens)
    .where(eq(refreshTokens.tokenHash, await sha256Hex(token)))
    .get();
  if (row) await revokeFamily(db, row.familyId);
}

