// HTTP behaviour every client sees: request ids, the access log, CORS, security headers,
// caching, and dashboard versions with ETag / If-None-Match / If-Match.
import { afterEach, describe, expect, it, vi } from "vitest";
import { addMember, api, expectError, registerOrg } from "./helpers";

afterEach(() => vi.restoreAllMocks());

describe("X-Request-Id", () => {
  it("keeps a client's sane id and echoes it, on success and on errors", async () => {
    for (const [method, path] of [
      ["GET", "/api/health"],
      ["GET", "/api/nowhere"],
      ["DELETE", "/api/health"],
      ["GET", "/api/dashboards"],
    ] as const) {
      const res = await api(method, path, { headers: { "x-request-id": "client-trace.42:abc" } });
      expect(res.headers.get("x-request-id"), `${method} ${path}`).toBe("client-trace.42:abc");
    }
  });

  it("replaces an id that is not a plain token with a generated one", async () => {
    for (const bad of ["has space", "x".repeat(129), "semi;colon", "<script>", "é"]) {
      const res = await api("GET", "/api/health", { headers: { "x-request-id": bad } });
      const id = res.headers.get("x-request-id");
      expect(id).not.toBe(bad);
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it("generates a fresh id per request when the client sends none", async () => {
    const a = await api("GET", "/api/health");
    const b = await api("GET", "/api/health");
    expect(a.headers.get("x-request-id")).not.toBe(b.headers.get("x-request-id"));
  });
});

describe("the access log", () => {
  const captured = () => {
    const lines: Record<string, unknown>[] = [];
    for (const method of ["log", "warn", "error"] as const) {
      vi.spyOn(console, method).mockImplementation((line: unknown) => {
        if (typeof line === "string" && line.startsWith("{")) lines.push(JSON.parse(line));
      });
    }
    return lines;
  };

  it("writes one line per request with the route pattern, status, duration and who asked", async () => {
    const admin = await registerOrg();
    const created = await api("POST", "/api/dashboards", { token: admin.token, body: { name: "Logged" } });
    const lines = captured();
    const res = await api("GET", `/api/dashboards/${created.body.id}`, {
      token: admin.token,
      headers: { "x-request-id": "log-test-1" },
    });
    expect(res.status).toBe(200);
    const requestLines = lines.filter((l) => l.message === "request" && l.requestId === "log-test-1");
    expect(requestLines).toHaveLength(1);
    expect(requestLines[0]).toMatchObject({
      level: "info",
      method: "GET",
      route: "/api/dashboards/:id",
      status: 200,
      durationMs: expect.any(Number),
      organizationId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      userId: admin.id,
    });
    // The path's id is not in the line; neither is the token.
    const text = JSON.stringify(requestLines[0]);
    expect(text).not.toContain(created.body.id);
    expect(text).not.toContain(admin.token);
  });

  it("logs unauthenticated and failed requests too, and every line of a request carries its id", async () => {
    const lines = captured();
    await api("POST", "/api/auth/login", {
      body: { email: "nobody@example.com", password: "wrong password 1" },
      headers: { "x-request-id": "log-test-2" },
    });
    const mine = lines.filter((l) => l.requestId === "log-test-2");
    expect(mine.find((l) => l.message === "request")).toMatchObject({ route: "/api/auth/login", status: 401, userId: null });
    expect(JSON.stringify(mine)).not.toContain("wrong password 1");
    // No line of the run lacks a request id while a request is being served.
    expect(lines.filter((l) => l.message === "request").every((l) => typeof l.requestId === "string")).toBe(true);
  });
});

describe("401 challenges", () => {
  it("name the Bearer scheme (RFC 6750); a wrong password at login does not", async () => {
    for (const headers of [{}, { authorization: "Bearer not.a.jwt" }] as Record<string, string>[]) {
      const res = await api("GET", "/api/dashboards", { headers });
      expectError(res, 401, "unauthorized");
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="edgeboard"');
    }
    const login = await api("POST", "/api/auth/login", { body: { email: "nobody@example.com", password: "wrong password 2" } });
    expectError(login, 401, "invalid_credentials");
    expect(login.headers.get("www-authenticate")).toBeNull();
  });
});

describe("security and caching headers", () => {
  it("are on every kind of response", async () => {
    const admin = await registerOrg();
    const responses = [
      await api("GET", "/api/health"),
      await api("GET", "/api/nowhere"),
      await api("GET", "/api/dashboards", { token: admin.token }),
      await api("POST", "/api/dashboards", { token: admin.token, rawBody: "{", headers: { "content-type": "application/json" } }),
    ];
    for (const res of responses) {
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("x-frame-options")).toBe("DENY");
      expect(res.headers.get("referrer-policy")).toBe("no-referrer");
      expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
      expect(res.headers.get("strict-transport-security")).toMatch(/max-age=\d+/);
    }
    // Authenticated answers are never stored by a browser or proxy.
    expect(responses[2]!.headers.get("cache-control")).toBe("no-store");
  });
});

describe("CORS", () => {
  const preflight = (origin: string) =>
    api("OPTIONS", "/api/dashboards", {
      headers: { origin, "access-control-request-method": "PATCH", "access-control-request-headers": "authorization,if-match" },
    });

  it("answers a preflight from an allowed origin with the methods and headers a client needs", async () => {
    const res = await preflight("https://app.example.com");
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect(res.headers.get("access-control-allow-methods")).toContain("PATCH");
    const allowed = (res.headers.get("access-control-allow-headers") ?? "").toLowerCase();
    for (const h of ["authorization", "content-type", "if-match", "if-none-match", "x-request-id"]) expect(allowed).toContain(h);
  });

  it("grants nothing to an origin that is not configured", async () => {
    const res = await preflight("https://evil.example.net");
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    const simple = await api("GET", "/api/health", { headers: { origin: "https://evil.example.net" } });
    expect(simple.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("exposes the request id, ETag and rate-limit headers to an allowed origin", async () => {
    const res = await api("GET", "/api/health", { headers: { origin: "https://app.example.com" } });
    const exposed = (res.headers.get("access-control-expose-headers") ?? "").toLowerCase();
    for (const h of ["x-request-id", "etag", "ratelimit", "retry-after"]) expect(exposed).toContain(h);
  });
});

describe("dashboard versions and conditional requests", () => {
  async function setup() {
    const admin = await registerOrg();
    const created = await api("POST", "/api/dashboards", { token: admin.token, body: { name: "Versioned" } });
    expect(created.status).toBe(201);
    return { admin, id: created.body.id as string, created };
  }

  it("starts at version 1 with an ETag, and every PATCH moves it on", async () => {
    const { admin, id, created } = await setup();
    expect(created.body.version).toBe(1);
    expect(created.headers.get("etag")).toBe('"1"');
    const patched = await api("PATCH", `/api/dashboards/${id}`, { token: admin.token, body: { name: "Renamed" } });
    expect(patched.body.version).toBe(2);
    expect(patched.headers.get("etag")).toBe('"2"');
    const list = await api("GET", "/api/dashboards", { token: admin.token });
    expect(list.body.data[0].version).toBe(2);
  });

  it("GET answers If-None-Match with 304 while nothing changed, 200 with a new tag after", async () => {
    const { admin, id } = await setup();
    const first = await api("GET", `/api/dashboards/${id}`, { token: admin.token });
    const etag = first.headers.get("etag")!;
    expect(etag).toMatch(/^"1\.[0-9a-f]{16}"$/);

    const again = await api("GET", `/api/dashboards/${id}`, { token: admin.token, headers: { "if-none-match": etag } });
    expect(again.status).toBe(304);
    expect(again.body).toBe("");
    expect(again.headers.get("etag")).toBe(etag);
    // Weak form and lists are understood too.
    const weak = await api("GET", `/api/dashboards/${id}`, { token: admin.token, headers: { "if-none-match": `"x", W/${etag}` } });
    expect(weak.status).toBe(304);

    // A widget added changes the representation (not the version): the old tag no longer matches.
    const widget = await api("POST", `/api/dashboards/${id}/widgets`, {
      token: admin.token,
      body: { type: "text", title: "Note", x: 0, y: 0, width: 2, height: 2, config: { text: "hi" } },
    });
    expect(widget.status, JSON.stringify(widget.body)).toBe(201);
    const changed = await api("GET", `/api/dashboards/${id}`, { token: admin.token, headers: { "if-none-match": etag } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get("etag")).not.toBe(etag);
    expect(changed.body.widgets).toHaveLength(1);
  });

  it("PATCH with the current If-Match applies; with a stale one answers 412 and changes nothing", async () => {
    const { admin, id } = await setup();
    const read = await api("GET", `/api/dashboards/${id}`, { token: admin.token });
    const etag = read.headers.get("etag")!;
    const ok = await api("PATCH", `/api/dashboards/${id}`, { token: admin.token, body: { name: "First" }, headers: { "if-match": etag } });
    expect(ok.status).toBe(200);

    const stale = await api("PATCH", `/api/dashboards/${id}`, { token: admin.token, body: { name: "Second" }, headers: { "if-match": etag } });
    expectError(stale, 412, "precondition_failed");
    const now = await api("GET", `/api/dashboards/${id}`, { token: admin.token });
    expect(now.body).toMatchObject({ name: "First", version: 2 });

    // The version part is what counts: a POST/PATCH tag, a GET tag, a list with it, or "*".
    for (const tag of ['"2"', '"99", "3"', '"4.0123456789abcdef"', "*"]) {
      const res = await api("PATCH", `/api/dashboards/${id}`, { token: admin.token, body: { description: tag }, headers: { "if-match": tag } });
      expect(res.status, tag).toBe(200);
    }
    for (const tag of ['"3"', "garbage", 'W/"x"', '""']) {
      const res = await api("PATCH", `/api/dashboards/${id}`, { token: admin.token, body: { name: "Nope" }, headers: { "if-match": tag } });
      expectError(res, 412, "precondition_failed");
    }
  });

  it("two editors who read the same version: exactly one PATCH wins, the other gets 412", async () => {
    const { admin, id } = await setup();
    const editor = await addMember(admin, "editor");
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        api("PATCH", `/api/dashboards/${id}`, {
          token: i % 2 ? admin.token : editor.token,
          body: { name: `Writer ${i}` },
          headers: { "if-match": '"1"' },
        }),
      ),
    );
    const winners = results.filter((r) => r.status === 200);
    expect(winners).toHaveLength(1);
    for (const r of results.filter((r) => r.status !== 200)) expectError(r, 412, "precondition_failed");
    const now = await api("GET", `/api/dashboards/${id}`, { token: admin.token });
    expect(now.body).toMatchObject({ name: winners[0]!.body.name, version: 2 });
  });

  it("DELETE honours If-Match; an unknown id is still 404 whatever the header says", async () => {
    const { admin, id } = await setup();
    expectError(await api("DELETE", `/api/dashboards/${id}`, { token: admin.token, headers: { "if-match": '"7"' } }), 412, "precondition_failed");
    expect((await api("GET", `/api/dashboards/${id}`, { token: admin.token })).status).toBe(200);
    expect((await api("DELETE", `/api/dashboards/${id}`, { token: admin.token, headers: { "if-match": '"1"' } })).status).toBe(204);
    expectError(await api("DELETE", `/api/dashboards/${id}`, { token: admin.token, headers: { "if-match": '"1"' } }), 404, "not_found");
    expectError(await api("PATCH", `/api/dashboards/${id}`, { token: admin.token, body: { name: "x" }, headers: { "if-match": "*" } }), 404, "not_found");
  });
});
