// Password hashing, opaque tokens and field encryption, all on WebCrypto.

const encoder = new TextEncoder();
// ignoreBOM: a secret that starts with U+FEFF keeps it (the default decoder strips it).
const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

export function fromBase64(value: string): Uint8Array {
  return Uint8Array.from(atob(value), (ch) => ch.charCodeAt(0));
}

export function toBase64Url(bytes: Uint8Array): string {
  return toBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function randomBytes(length: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(length));
}

/** Compares two byte strings in time that depends only on their length. */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

// ---- Passwords: PBKDF2-SHA256, stored as `pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>` so
// the parameters travel with the hash and can be raised later without a migration.

// Workers' PBKDF2 refuses more than 100,000 iterations.
export const PBKDF2_ITERATIONS = 100_000;
const PASSWORD_SCHEME = "pbkdf2-sha256";

async function pbkdf2(password: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(password), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, 256);
  return new Uint8Array(bits);
}

export async function hashPassword(password: string, iterations = PBKDF2_ITERATIONS): Promise<string> {
  const salt = randomBytes(16);
  const hash = await pbkdf2(password, salt, iterations);
  return `${PASSWORD_SCHEME}$${iterations}$${toBase64(salt)}$${toBase64(hash)}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, iterationsText, saltText, hashText] = stored.split("$");
  const iterations = Number(iterationsText);
  if (scheme !== PASSWORD_SCHEME || !Number.isInteger(iterations) || !saltText || !hashText) return false;
  const actual = await pbkdf2(password, fromBase64(saltText), iterations);
  return timingSafeEqual(actual, fromBase64(hashText));
}

// A real hash of a random password: verifying against it makes the unknown-email path of a
// login cost the same PBKDF2 work as a wrong password.
let dummyHash: Promise<string> | undefined;
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(toBase64(randomBytes(18)));
  return dummyHash;
}

// ---- Opaque tokens (refresh tokens): random, shown once, stored as SHA-256.

export function generateToken(bytes = 32): string {
  return toBase64Url(randomBytes(bytes));
}

export async function sha256Hex(value: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(value)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

// ---- Field encryption: AES-256-GCM with a random 96-bit IV per value. The stored text is
// base64(iv || ciphertext+tag); the key version is stored beside it so keys can rotate.

export const CURRENT_KEY_VERSION = 1;

export interface EncryptedValue {
  ciphertext: string;
  keyVersion: number;
}

const keyCache = new WeakMap<Uint8Array, Promise<CryptoKey>>();
function aesKey(raw: Uint8Array): Promise<CryptoKey> {
  let key = keyCache.get(raw);
  if (!key) {
    key = crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
    keyCache.set(raw, key);
  }
  return key;
}

export async function encryptSecret(plaintext: string, rawKey: Uint8Array): Promise<EncryptedValue> {
  const iv = randomBytes(12);
  const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv }, await aesKey(rawKey), encoder.encode(plaintext));
  const out = new Uint8Array(iv.length + sealed.byteLength);
  out.set(iv);
  out.set(new Uint8Array(sealed), iv.length);
  return { ciphertext: toBase64(out), keyVersion: CURRENT_KEY_VERSION };
}

export async function decryptSecret(value: EncryptedValue, rawKey: Uint8Array): Promise<string> {
  if (value.keyVersion !== CURRENT_KEY_VERSION) throw new Error(`No encryption key for version ${value.keyVersion}`);
  const bytes = fromBase64(value.ciphertext);
  const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: bytes.slice(0, 12) }, await aesKey(rawKey), bytes.slice(12));
  return decoder.decode(plain);
}
