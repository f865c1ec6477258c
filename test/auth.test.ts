import { env, SELF } from "cloudflare:test";
import { SignJWT, UnsecuredJWT } from "jose";
import { describe, expect, it } from "vitest";
import { api, expectError, ISO_MS, registerOrg, uniqueEmail, UUID } from "./helpers";

const secret = new TextEncoder().encode(env.JWT_SECRET);

function claims(overrides: Record<string, unknown> = {}) {
  const now = Math.floor(Date.now() / 1000);
  return { sub: crypto.randomUUID(), org: crypto.randomUUID(), role: "admin", iss: "edgeboard", aud: "edgeboard-api", iat: now, exp: now + 3600, jti: crypto.randomUUID(), ...overrides };
}

describe("register", () => {
  it("creates an organization whose first user is admin, with the login body", async () => {
    const email = uniqueEmail("new");
    const res = await api("POST", "/api/auth/register", {
      body: { email: `  ${email.toUpperCase()} `, password: "longenough", firstName: "Grace", lastName: "Hopper" },
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      accessToken: expect.stringMatching(/^eyJ/),
      refreshToken: expect.any(String),
      expiresIn: 3600,
      user: { id: expect.stringMatching(UUID), email, firstName: "Grace", lastName: "Hopper", role: "admin" },
    });
    const me = await api("GET", "/api/users/me", { token: res.body.accessToken });
    expect(me.body.email).toBe(email);
  });

  it("refuses a taken email, compared case-insensitively, with 409", async () => {
    const admin = await registerOrg();
    const res = await api("POST", "/api/auth/register", {
      body: { email: admin.email.toUpperCase(), password: "longenough", firstName: "A", lastName: "B" },
    });
    expect(expectError(res, 409, "conflict")).toEqual([{ field: "email", message: expect.any(String) }]);
  });

  it("validates every field with its path", async () => {
    const res = await api("POST", "/api/auth/register", { body: { email: "nope", password: "short", firstName: "", extra: 1 } });
    const fields = expectError(res, 400, "validation_error").map((d) => d.field).sort();
    expect(fields).toEqual(["email", "extra", "firstName", "lastName", "password"]);
  });

  it("enforces the 128-character password maximum", async () => {
    const res = await api("POST", "/api/auth/register", {
      body: { email: uniqueEmail(), password: "x".repeat(129), firstName: "A", lastName: "B" },
    });
    expect(expectError(res, 400, "validation_error")).toEqual([{ field: "password", message: expect.any(String) }]);
  });

  it("can be switched off with REGISTRATION_ENABLED", async () => {
    const worker = (await import("../src/index")).default;
    const req = new Request("http://x/api/auth/register", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: uniqueEmail(), password: "longenough", firstName: "A", lastName: "B" }),
    });
    const res = await worker.fetch(req, { ...env, REGISTRATION_ENABLED: "false" }, {} as ExecutionContext);
    expect(res.status).toBe(403);
    expect(((await res.json()) as any).error.code).toBe("forbidden");
  });
});

describe("login", () => {
  it("returns exactly the spec's shape", async () => {
    const admin = await registerOrg();
    const res = await api("POST", "/api/auth/login", { body: { email: ` ${admin.email.toUpperCase()}`, password: admin.password } });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(["accessToken", "expiresIn", "refreshToken", "user"]);
    expect(Object.keys(res.body.user).sort()).toEqual(["email", "firstName", "id", "lastName", "role"]);
    expect(JSON.stringify(res.body)).not.toMatch(/pbkdf2|password/i);
  });

  it("answers a wrong password and an unknown email the same way", async () => {
    const admin = await registerOrg();
    const wrong = await api("POST", "/api/auth/login", { body: { email: admin.email, password: "not the password" } });
    const unknown = await api("POST", "/api/auth/login", { body: { email: uniqueEmail("ghost"), password: "whatever1" } });
    expectError(wrong, 401, "invalid_credentials");
    expectError(unknown, 401, "invalid_credentials");
    expect(wrong.body).toEqual(unknown.body);
  });

  it("rejects malformed JSON and a non-JSON content type with 400", async () => {
    const malformed = await api("POST", "/api/auth/login", { rawBody: "{not json", headers: { "content-type": "application/json" } });
    expect(expectError(malformed, 400, "validation_error")[0]?.field).toBe("body");
    const form = await api("POST", "/api/auth/login", { rawBody: "email=a&password=b", headers: { "content-type": "application/x-www-form-urlencoded" } });
    expectError(form, 400, "validation_error");
    const wrongTypes = await api("POST", "/api/auth/login", { body: { email: 42, password: ["x"] } });
    expect(expectError(wrongTypes, 400, "validation_error").map((d) => d.field).sort()).toEqual(["email", "password"]);
  });

  it("reads a chunked body (no Content-Length) up to the limit and refuses one beyond it", async () => {
    const admin = await registerOrg();
    const streamOf = (text: string) => {
      const bytes = new TextEncoder().encode(text);
      return new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < bytes.length; i += 65_536) controller.enqueue(bytes.slice(i, i + 65_536));
          controller.close();
        },
      });
    };
    const send = (text: string) =>
      SELF.fetch("http://edgeboard.test/api/auth/login", {
        method: "POST",
        headers: { "content-type": "application/json", "transfer-encoding": "chunked" },
        body: streamOf(text),
      });
    const ok = await send(JSON.stringify({ email: admin.email, password: admin.password }));
    expect(ok.headers.get("content-length")).not.toBe("0");
    expect(ok.status).toBe(200);
    const big = await send(JSON.stringify({ email: admin.email, password: "x".repeat(2_000_000) }));
    expect(big.status).toBe(413);
    expect(((await big.json()) as any).error.code).toBe("payload_too_large");
    // The refused stream leaves nothing behind for the next request.
    expect((await api("GET", "/api/health")).status).toBe(200);
  });

  it("answers an oversize body with 413", async () => {
    const res = await api("POST", "/api/auth/login", { body: { email: "a@b.co", password: "x".repeat(1_100_000) } });
    expectError(res, 413, "payload_too_large");
  });
});

describe("access tokens", () => {
  const me = (token: string) => api("GET", "/api/users/me", { token });

  it("refuses a missing or malformed Authorization header", async () => {
    expectError(await api("GET", "/api/users/me"), 401, "unauthorized");
    expectError(await api("GET", "/api/users/me", { headers: { authorization: "Basic abc" } }), 401, "unauthorized");
    expectError(await api("GET", "/api/users/me", { headers: { authorization: "Bearer" } }), 401, "unauthorized");
    expectError(await me("not-a-jwt"), 401, "unauthorized");
  });

  it("refuses expired, tampered, alg:none, foreign-key and wrong-algorithm tokens", async () => {
    const admin = await registerOrg();
    const payload = JSON.parse(atob(admin.token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/")));
    const now = Math.floor(Date.now() / 1000);

    const expired = await new SignJWT({ ...payload, iat: now - 7200, exp: now - 3600 }).setProtectedHeader({ alg: "HS256" }).sign(secret);
    const foreignKey = await new SignJWT(payload).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode("another-secret-another-secret-another-secret"));
    const wrongAlg = await new SignJWT(payload).setProtectedHeader({ alg: "HS512" }).sign(secret);
    const none = new UnsecuredJWT(payload).encode();
    const [h, , s] = admin.token.split(".");
    const tampered = `${h}.${btoa(JSON.stringify({ ...payload, role: "admin", org: crypto.randomUUID() })).replace(/=+$/, "")}.${s}`;
    const wrongAudience = await new SignJWT({ ...payload, aud: "someone-else" }).setProtectedHeader({ alg: "HS256" }).sign(secret);
    const wrongIssuer = await new SignJWT({ ...payload, iss: "evil" }).setProtectedHeader({ alg: "HS256" }).sign(secret);

    for (const token of [expired, foreignKey, wrongAlg, none, tampered, wrongAudience, wrongIssuer]) {
      expectError(await me(token), 401, "unauthorized");
    }
    expect((await me(admin.token)).status).toBe(200);
  });

  it("dies with its session: logout, refresh-token reuse and a password change elsewhere end it at once", async () => {
    const admin = await registerOrg();
    const second = await api("POST", "/api/auth/login", { body: { email: admin.email, password: admin.password } });
    const third = await api("POST", "/api/auth/login", { body: { email: admin.email, password: admin.password } });

    expect((await me(admin.token)).status).toBe(200);
    expect((await api("POST", "/api/auth/logout", { body: { refreshToken: admin.refreshToken } })).status).toBe(204);
    expectError(await me(admin.token), 401, "unauthorized");

    // Reuse of a rotated refresh token revokes the family, and its access tokens with it.
    const rotated = await api("POST", "/api/auth/refresh-token", { body: { refreshToken: second.body.refreshToken } });
    expect((await me(rotated.body.accessToken)).status).toBe(200);
    await api("POST", "/api/auth/refresh-token", { body: { refreshToken: second.body.refreshToken } });
    expectError(await me(rotated.body.accessToken), 401, "unauthorized");
    expectError(await me(second.body.accessToken), 401, "unauthorized");

    // A password change signs out the other sessions, but not the one that made it.
    const fourth = await api("POST", "/api/auth/login", { body: { email: admin.email, password: admin.password } });
    const changed = await api("POST", "/api/users/me/password", {
      token: fourth.body.accessToken,
      body: { currentPassword: admin.password, newPassword: "another fine password" },
    });
    expect(changed.status).toBe(204);
    expectError(await me(third.body.accessToken), 401, "unauthorized");
    expect((await me(fourth.body.accessToken)).status).toBe(200);
  });

  it("dies on every read path too: a batched read, a plain one, and one that would fail anyway", async () => {
    // Reads check the session in the same D1 batch as their queries, or after the handler when
    // they make no batch; none of them may answer with data, or with another error, for a dead token.
    const admin = await registerOrg();
    const dashboard = await api("POST", "/api/dashboards", { token: admin.token, body: { name: "Before logout" } });
    const reads = [
      "/api/dashboards",
      `/api/dashboards/${dashboard.body.id}`,
      `/api/dashboards/${dashboard.body.id}/widgets`,
      "/api/users/me",
      "/api/users",
      `/api/dashboards/${crypto.randomUUID()}`,
      "/api/dashboards?limit=0",
    ];
    for (const path of reads.slice(0, 5)) expect((await api("GET", path, { token: admin.token })).status).toBe(200);
    expect((await api("POST", "/api/auth/logout", { body: { refreshToken: admin.refreshToken } })).status).toBe(204);
    for (const path of reads) {
      const res = await api("GET", path, { token: admin.token });
      expect(res.status, path).toBe(401);
      expectError(res, 401, "unauthorized");
    }
  });

  it("judges roles by the stored role on reads as well: a demoted admin's older token gets 403", async () => {
    const admin = await registerOrg();
    const other = await api("POST", "/api/users", {
      token: admin.token,
      body: { email: uniqueEmail("second-admin"), password: "a long password", firstName: "Sec", lastName: "Ond", role: "admin" },
    });
    const second = await api("POST", "/api/auth/login", { body: { email: other.body.email, password: "a long password" } });
    expect((await api("GET", "/api/users", { token: second.body.accessToken })).status).toBe(200);
    await api("PATCH", `/api/users/${other.body.id}`, { token: admin.token, body: { role: "viewer" } });
    // The token still says admin; the stored role says viewer.
    expectError(await api("GET", "/api/users", { token: second.body.accessToken }), 403, "forbidden");
    expect((await api("GET", "/api/dashboards", { token: second.body.accessToken })).status).toBe(200);
  });

  it("refuses a well-signed token without a session", async () => {
    const admin = await registerOrg();
    const payload = JSON.parse(atob(admin.token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/")));
    const { sid: _sid, ...withoutSession } = payload;
    const token = await new SignJWT(withoutSession).setProtectedHeader({ alg: "HS256" }).sign(secret);
    expectError(await me(token), 401, "unauthorized");
  });

  it("refuses a well-signed token for a user that does not exist", async () => {
    const token = await new SignJWT(claims()).setProtectedHeader({ alg: "HS256" }).sign(secret);
    expectError(await me(token), 401, "unauthorized");
  });
});

describe("refresh tokens", () => {
  it("rotates: a new access and refresh token, and the old one stops working", async () => {
    const admin = await registerOrg();
    const res = await api("POST", "/api/auth/refresh-token", { body: { refreshToken: admin.refreshToken } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ accessToken: expect.stringMatching(/^eyJ/), expiresIn: 3600, refreshToken: expect.any(String) });
    expect(res.body.refreshToken).not.toBe(admin.refreshToken);
    expect((await api("GET", "/api/users/me", { token: res.body.accessToken })).status).toBe(200);
  });

  it("revokes the whole family when a rotated token is presented again", async () => {
    const admin = await registerOrg();
    const first = await api("POST", "/api/auth/refresh-token", { body: { refreshToken: admin.refreshToken } });
    expect(first.status).toBe(200);
    // The stolen old token is replayed: refused, and the legitimate new one dies with it.
    expectError(await api("POST", "/api/auth/refresh-token", { body: { refreshToken: admin.refreshToken } }), 401, "unauthorized");
    expectError(await api("POST", "/api/auth/refresh-token", { body: { refreshToken: first.body.refreshToken } }), 401, "unauthorized");
  });

  it("lets only one of two concurrent refreshes of the same token win", async () => {
    const admin = await registerOrg();
    const results = await Promise.all([0, 1].map(() => api("POST", "/api/auth/refresh-token", { body: { refreshToken: admin.refreshToken } })));
    expect(results.filter((r) => r.status === 200).length).toBeLessThanOrEqual(1);
  });

  it("refuses unknown and expired tokens", async () => {
    expectError(await api("POST", "/api/auth/refresh-token", { body: { refreshToken: "nope" } }), 401, "unauthorized");
    const admin = await registerOrg();
    await env.DB.prepare("UPDATE refresh_tokens SET expires_at = '2000-01-01T00:00:00.000Z'").run();
    expectError(await api("POST", "/api/auth/refresh-token", { body: { refreshToken: admin.refreshToken } }), 401, "unauthorized");
  });

  it("stores only hashes", async () => {
    const admin = await registerOrg();
    const rows = await env.DB.prepare("SELECT token_hash FROM refresh_tokens").all<{ token_hash: string }>();
    expect(rows.results.some((r) => r.token_hash === admin.refreshToken)).toBe(false);
    expect(rows.results.every((r) => /^[0-9a-f]{64}$/.test(r.token_hash))).toBe(true);
  });

  it("logout revokes the family and answers 204", async () => {
    const admin = await registerOrg();
    const rotated = await api("POST", "/api/auth/refresh-token", { body: { refreshToken: admin.refreshToken } });
    const out = await api("POST", "/api/auth/logout", { body: { refreshToken: rotated.body.refreshToken } });
    expect(out.status).toBe(204);
    expectError(await api("POST", "/api/auth/refresh-token", { body: { refreshToken: rotated.body.refreshToken } }), 401, "unauthorized");
    expect((await api("POST", "/api/auth/logout", { body: { refreshToken: "unknown" } })).status).toBe(204);
  });
});

describe("password storage", () => {
  it("stores PBKDF2-SHA256 with 100,000 iterations and a 16-byte salt", async () => {
    const admin = await registerOrg();
    const row = await env.DB.prepare("SELECT password_hash FROM users WHERE id = ?").bind(admin.id).first<{ password_hash: string }>();
    const [scheme, iterations, salt] = row!.password_hash.split("$");
    expect(scheme).toBe("pbkdf2-sha256");
    expect(iterations).toBe("100000");
    expect(atob(salt!).length).toBe(16);
    expect(row!.password_hash).not.toContain(admin.password);
  });
});

it("timestamps are ISO 8601 with milliseconds", async () => {
  const admin = await registerOrg();
  const me = await api("GET", "/api/users/me", { token: admin.token });
  expect(me.body.createdAt).toMatch(ISO_MS);
});
