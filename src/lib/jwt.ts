import { SignJWT, jwtVerify } from "jose";
import { ROLES, type Role } from "../db/schema";
import type { Actor, Config } from "../env";
import { unauthorized } from "./errors";

const ALGORITHM = "HS256";

// `Bearer <JWT>`; the scheme is case-insensitive (RFC 9110 §11.1), so `bearer` is the same.
const BEARER = /^Bearer ([A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]*)$/i;

/** The access token of an `Authorization` header, or null when it is not `Bearer <JWT>`. */
export const bearerToken = (header: string | undefined): string | null => BEARER.exec(header ?? "")?.[1] ?? null;

export async function signAccessToken(actor: Actor, config: Config, now = Date.now()): Promise<string> {
  const iat = Math.floor(now / 1000);
  return new SignJWT({ org: actor.organizationId, role: actor.role, ...(actor.sessionId ? { sid: actor.sessionId } : {}) })
    .setProtectedHeader({ alg: ALGORITHM, typ: "JWT" })
    .setSubject(actor.userId)
    .setIssuer(config.jwtIssuer)
    .setAudience(config.jwtAudience)
    .setIssuedAt(iat)
    .setExpirationTime(iat + config.accessTokenTtlSeconds)
    .setJti(crypto.randomUUID())
    .sign(config.jwtSecret);
}

/** Verifies signature, algorithm, issuer, audience and expiry; any failure is 401. */
export async function verifyAccessToken(token: string, config: Config): Promise<Actor> {
  try {
    const { payload } = await jwtVerify(token, config.jwtSecret, {
      algorithms: [ALGORITHM],
      issuer: config.jwtIssuer,
      audience: config.jwtAudience,
      requiredClaims: ["sub", "exp", "iat", "jti"],
    });
    const { sub, org, role, sid } = payload;
    if (typeof sub !== "string" || typeof org !== "string" || !ROLES.includes(role as Role)) {
      throw new Error("malformed claims");
    }
    return { userId: sub, organizationId: org, role: role as Role, ...(typeof sid === "string" ? { sessionId: sid } : {}) };
  } catch {
    throw unauthorized("Invalid or expired access token");
  }
}
