import { SignJWT, jwtVerify } from "jose";
import { ROLES, type Role } from "../db/schema";
import type { Actor, Config } from "../env";
import { unauthorized } from "./errors";

const ALGORITHM = "HS256";

// `Bearer <JWT>`; the scheme is case-insensitive (RFC 9110 §11.1), so `bearer` is the same.
const BEARER = /^Bearer ([A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]*)$/i;

/** The access token of an `Authorization` header, or null when it is not `Bearer <JWT>`. */
export const bearerToken = (header: string | undefined): string | null => BEARER.exec(header ?? "")?.[1] ?? null;

// The HMAC key imported once per secret and isolate (config is parsed once, so the same bytes):
// given raw bytes, jose would import them again for every token it signs or checks.
// The key, not a promise of it, is shared: a promise is tied to the request that made it.
const keys = new WeakMap<Uint8Array, CryptoKey>();
async function hmacKey(secret: Uint8Array): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = await crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    keys.set(secret, key);
  }
  return key;
}

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
    .sign(await hmacKey(config.jwtSecret));
}

/** Verifies signature, algorithm, issuer, audience and expiry; any failure is 401. */
export async function verifyAccessToken(token: string, config: Config): Promise<Actor> {
  try {
    const { payload } = await jwtVerify(token, await hmacKey(config.jwtSecret), {
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
