// Standard Webhooks signing (https://www.standardwebhooks.com): a secret is `whsec_` + base64 of
// the key bytes; a signature is `v1,` + base64(HMAC-SHA256(key, `${id}.${timestamp}.${body}`)),
// and several signatures travel space-separated in one `webhook-signature` header.
import { fromBase64, randomBytes, toBase64 } from "./crypto";

const SECRET_PREFIX = "whsec_";
const SECRET_BYTES = 32;
const encoder = new TextEncoder();

export function generateWebhookSecret(): string {
  return SECRET_PREFIX + toBase64(randomBytes(SECRET_BYTES));
}

function secretKeyBytes(secret: string): Uint8Array {
  if (!secret.startsWith(SECRET_PREFIX)) throw new Error("Webhook secret lacks the whsec_ prefix");
  return fromBase64(secret.slice(SECRET_PREFIX.length));
}

async function sign(secret: string, content: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", secretKeyBytes(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(content));
  return `v1,${toBase64(new Uint8Array(mac))}`;
}

/** The `webhook-signature` value: one `v1,` signature per secret, in the order given. */
export async function signWebhook(secrets: string[], id: string, timestamp: number, body: string): Promise<string> {
  const content = `${id}.${timestamp}.${body}`;
  const signatures = await Promise.all(secrets.map((secret) => sign(secret, content)));
  return signatures.join(" ");
}
