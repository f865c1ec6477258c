// The secret scan (test/secret-scan.ts) must find what it looks for: each detector is shown a
// response, or a log line, that carries its secret.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { log } from "../src/lib/log";
import { api, registerOrg, type ApiResponse } from "./helpers";
import type { Exchange } from "./response-checks";
import { scanStoredSecrets, secretScan } from "./secret-scan";

function exchange(method: string, path: string, status: number, body: unknown, requestBody?: unknown): Exchange {
  const text = JSON.stringify(body);
  const response: ApiResponse = { status, body, headers: new Headers({ "content-type": "application/json" }) };
  return { method, path, requestBody, response, text };
}

const SECRET = "whsec_" + btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));

describe("the secret scan", () => {
  it("finds a password hash", () => {
    const hash = "pbkdf2-sha256$100000$c2FsdHNhbHRzYWx0c2FsdA==$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g=";
    expect(() => secretScan(exchange("GET", "/api/users/me", 200, { note: hash }))).toThrow(/a password hash/);
  });

  it("finds a stored hash or ciphertext column by name", () => {
    expect(() => secretScan(exchange("GET", "/api/data-sources/x", 200, { id: "x", passwordEncrypted: "AAAA" }))).toThrow(/passwordEncrypted/);
    expect(() => secretScan(exchange("GET", "/api/webhooks", 200, { data: [{ secret_encrypted: "AAAA" }] }))).toThrow(/secret_encrypted/);
  });

  it("allows a refresh token only in the response that issues it", () => {
    const token = "rt-" + crypto.randomUUID() + crypto.randomUUID();
    secretScan(exchange("POST", "/api/auth/login", 200, { accessToken: "a.b.c", refreshToken: token }));
    expect(() => secretScan(exchange("GET", "/api/users/me", 200, { echo: token }))).toThrow(/a refresh token/);
    // A rotation's response carries its new token, never the one it spent.
    expect(() => secretScan(exchange("POST", "/api/auth/refresh-token", 200, { refreshToken: "new-" + token, old: token }))).toThrow(/a refresh token/);
    expect(() => secretScan(exchange("GET", "/api/users/me", 200, { refreshToken: "x" }))).toThrow(/refreshToken field/);
  });

  it("allows a webhook secret only on creation and rotation", () => {
    secretScan(exchange("POST", "/api/webhooks", 201, { id: "w", secret: SECRET }));
    expect(() => secretScan(exchange("GET", "/api/webhooks/w", 200, { id: "w", secret: SECRET }))).toThrow(/a webhook secret/);
    expect(() => secretScan(exchange("GET", "/api/webhooks/w", 200, { key: SECRET.slice(6) }))).toThrow(/a webhook secret/);
    // Rotation returns the new secret, not the old one beside it.
    const next = "whsec_" + btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
    expect(() => secretScan(exchange("POST", "/api/webhooks/w/rotate-secret", 200, { secret: next, previous: SECRET }))).toThrow(/a webhook secret/);
  });

  it("finds a password a client sent, in that response or a later one", () => {
    const body = { name: "s", type: "postgresql", connection: { host: "h", port: 1, database: "d", username: "u", password: "Tr0ub4dor&3-x" } };
    expect(() => secretScan(exchange("POST", "/api/data-sources", 400, { error: { message: "bad Tr0ub4dor&3-x" } }, body))).toThrow(/a password sent/);
    expect(() => secretScan(exchange("GET", "/api/data-sources", 200, { data: ["Tr0ub4dor&3-x"] }))).toThrow(/a password sent/);
    // A plain word is not remembered: it would be "found" in every field name.
    secretScan(exchange("POST", "/api/data-sources", 400, {}, { connection: { password: "password" } }));
    secretScan(exchange("GET", "/api/data-sources", 200, { details: [{ field: "connection.password" }] }));
  });

  it("reads the Worker's log lines", () => {
    const token = "rt-" + crypto.randomUUID() + crypto.randomUUID();
    secretScan(exchange("POST", "/api/auth/register", 201, { refreshToken: token }));
    // Through the console wrapper test/setup.ts installs (this prints one warning line).
    log("warn", "secret-scan self-test: a leaked token", { token });
    expect(() => secretScan(exchange("GET", "/api/health", 200, { status: "ok" }))).toThrow(/a log line contains a refresh token/);
    return expect(scanStoredSecrets()).rejects.toThrow(/log line/);
  });

  it("finds a stored hash or ciphertext by value after the test", async () => {
    const admin = await registerOrg();
    const row = await env.DB.prepare("SELECT password_hash AS h FROM users WHERE id = ?").bind(admin.id).first<{ h: string }>();
    // The hash part alone: no shape to spot, only the stored value gives it away.
    secretScan(exchange("GET", "/api/users/me", 200, { id: admin.id, checksum: row!.h.split("$")[3] }));
    await expect(scanStoredSecrets()).rejects.toThrow(/stored hash or ciphertext/);
    // Real responses pass.
    expect((await api("GET", "/api/users/me", { token: admin.token })).status).toBe(200);
  });
});
