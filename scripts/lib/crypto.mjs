// Node-side twins of src/lib/crypto.ts, for the seed script: the same stored formats, so rows
// written here are read by the Worker unchanged.
import { webcrypto as crypto } from "node:crypto";

const enc = new TextEncoder();
const b64 = (bytes) => Buffer.from(bytes).toString("base64");

export async function hashPassword(password, iterations = 100_000) {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const key = await crypto.subtle.importKey("raw", enc.encode(password), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, 256);
  return `pbkdf2-sha256$${iterations}$${b64(salt)}$${b64(new Uint8Array(bits))}`;
}

export async function encryptSecret(plaintext, base64Key) {
  const key = await crypto.subtle.importKey("raw", Buffer.from(base64Key, "base64"), "AES-GCM", false, ["encrypt"]);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, enc.encode(plaintext)));
  const out = new Uint8Array(iv.length + sealed.length);
  out.set(iv);
  out.set(sealed, iv.length);
  return { ciphertext: b64(out), keyVersion: 1 };
}

export function randomSecret(bytes = 32) {
  return b64(crypto.getRandomValues(new Uint8Array(bytes)));
}
