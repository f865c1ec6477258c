import { and, eq, isNotNull, isNull } from "drizzle-orm";
import { organizations, refreshTokens, users, type User } from "../db/schema";
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
  try {
    await db.batch([
      db.insert(organizations).values({
        id: organizationId,
        name: input.organizationName ?? `${input.firstName} ${input.lastName}'s organization`,
        createdAt: now,
        updatedAt: now,
      }),
      db.insert(users).values(user),
    ]);
  } catch (err) {
    if (isUniqueViolation(err)) throw emailTaken();
    throw err;
  }
  return startSession(db, config, user, crypto.randomUUID());
}

export async function login(db: Database, config: Config, input: LoginInput): Promise<Session> {
  const user = await db.select().from(users).where(eq(users.email, input.email)).get();
  // Unknown emails hash against a dummy so both failures take the same time.
  const valid = await verifyPassword(input.password, user?.passwordHash ?? (await dummyPasswordHash()));
  if (!user || !valid) throw invalidCredentials();
  return startSession(db, config, user, crypto.randomUUID());
}

async function startSession(db: Database, config: Config, user: User, familyId: string): Promise<Session> {
  const refreshToken = await insertRefreshToken(db, config, user.id, familyId);
  const accessToken = await signAccessToken(
    { userId: user.id, organizationId: user.organizationId, role: user.role, sessionId: familyId },
    config,
  );
  return {
    accessToken,
    refreshToken,
    expiresIn: config.accessTokenTtlSeconds,
    user: { id: user.id, email: user.email, firstName: user.firstName, lastName: user.lastName, role: user.role },
  };
}

async function insertRefreshToken(db: Database, config: Config, userId: string, familyId: string): Promise<string> {
  const token = generateToken();
  const now = Date.now();
  await db.insert(refreshTokens).values({
    id: crypto.randomUUID(),
    userId,
    familyId,
    tokenHash: await sha256Hex(token),
    expiresAt: nowIso(now + config.refreshTokenTtlSeconds * 1000),
    createdAt: nowIso(now),
  });
  return token;
}

async function revokeFamily(db: Database, familyId: string): Promise<void> {
  await db
    .update(refreshTokens)
    .set({ revokedAt: nowIso() })
    .where(and(eq(refreshTokens.familyId, familyId), isNull(refreshTokens.revokedAt)));
}

async function familyRevoked(db: Database, familyId: string): Promise<boolean> {
  const revoked = await db
    .select({ id: refreshTokens.id })
    .from(refreshTokens)
    .where(and(eq(refreshTokens.familyId, familyId), isNotNull(refreshTokens.revokedAt)))
    .limit(1)
    .get();
  return revoked !== undefined;
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

  // Claim the token atomically: of two concurrent refreshes only one sees a change.
  const claimed = await db
    .update(refreshTokens)
    .set({ rotatedAt: nowIso() })
    .where(and(eq(refreshTokens.id, row.id), isNull(refreshTokens.rotatedAt), isNull(refreshTokens.revokedAt)))
    .returning({ id: refreshTokens.id })
    .get();
  if (!claimed) {
    await revokeFamily(db, row.familyId);
    throw invalidRefreshToken();
  }
  const user = await db.select().from(users).where(eq(users.id, row.userId)).get();
  if (!user) throw invalidRefreshToken();
  const session = await startSession(db, config, user, row.familyId);
  // A reuse detected while this rotation was in flight revoked the family before the new token
  // existed, so that revocation missed it: the new token must not outlive its family.
  if (await familyRevoked(db, row.familyId)) {
    await revokeFamily(db, row.familyId);
    throw invalidRefreshToken();
  }
  return { accessToken: session.accessToken, expiresIn: session.expiresIn, refreshToken: session.refreshToken };
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

