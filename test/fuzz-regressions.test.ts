// What the generated requests of test/fuzz-api.test.ts found, each kept as a plain test of the
// shared mechanism that was fixed (the fuzz keeps finding its kind; these name the case).
import { env } from "cloudflare:test";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/env";
import { decryptSecret, encryptSecret } from "../src/lib/crypto";
import { fieldsOf, newDashboard, newWidget, widgetBody } from "./crud-helpers";
import { addMember, api, expectError, registerOrg } from "./helpers";

const count = async (table: string) => (await env.DB.prepare(`SELECT count(*) AS n FROM ${table}`).first<{ n: number }>())!.n;

describe("a JSON body that is not an object", () => {
  // The widget grid refinement's `when` read `value.x` of whatever came: `null` threw, 500.
  it.each([["null"], ["[]"], ['"widget"'], ["1"], ["true"]])("%s as a widget body is a 400, not a 500", async (text) => {
    const admin = await registerOrg();
    const dashboard = await newDashboard(admin);
    const widget = await newWidget(admin, dashboard.id);
    const headers = { "content-type": "application/json" };
    const created = await api("POST", `/api/dashboards/${dashboard.id}/widgets`, { token: admin.token, rawBody: text, headers });
    expect(expectError(created, 400, "validation_error")).toEqual([{ field: "body", message: expect.any(String) }]);
    const patched = await api("PATCH", `/api/dashboards/${dashboard.id}/widgets/${widget.id}`, { token: admin.token, rawBody: text, headers });
    expect(expectError(patched, 400, "validation_error")).toEqual([{ field: "body", message: expect.any(String) }]);
  });
});

describe("request bodies are UTF-8", () => {
  const body = (bytes: number[]) => {
    // {"name":"<bytes>Sales"}
    const before = new TextEncoder().encode('{"name":"');
    const after = new TextEncoder().encode('Sales"}');
    return Uint8Array.from([...before, ...bytes, ...after]);
  };

  // Bytes that are not UTF-8 used to be decoded with U+FFFD in their place and stored so.
  it.each([
    ["a lone continuation byte", [0xff]],
    ["a truncated sequence", [0xe2, 0x82]],
    ["an overlong encoding", [0xc0, 0xaf]],
    ["an encoded surrogate", [0xed, 0xa0, 0x80]],
  ])("%s is refused with 400 before anything is stored", async (_name, bytes) => {
    const admin = await registerOrg();
    const before = await count("dashboards");
    const res = await api("POST", "/api/dashboards", { token: admin.token, rawBody: body(bytes), headers: { "content-type": "application/json" } });
    expect(expectError(res, 400, "validation_error")).toEqual([{ field: "body", message: "Body is not valid UTF-8" }]);
    expect(await count("dashboards")).toBe(before);
  });

  it("is judged after the token and the role, like the Content-Type", async () => {
    const res = await api("POST", "/api/dashboards", { rawBody: body([0xff]), headers: { "content-type": "application/json" } });
    expectError(res, 401, "unauthorized");
    const admin = await registerOrg();
    const viewer = await addMember(admin, "viewer");
    const asViewer = await api("POST", "/api/dashboards", { token: viewer.token, rawBody: body([0xff]), headers: { "content-type": "application/json" } });
    expectError(asViewer, 403, "forbidden");
    const asAdmin = await api("POST", "/api/dashboards", { token: admin.token, rawBody: body([0xff]), headers: { "content-type": "application/json" } });
    expectError(asAdmin, 400, "validation_error");
  });

  it("takes multi-byte UTF-8 as is, and ignores a leading byte-order mark", async () => {
    const admin = await registerOrg();
    const euro = await api("POST", "/api/dashboards", { token: admin.token, rawBody: body([0xe2, 0x82, 0xac]), headers: { "content-type": "application/json" } });
    expect(euro.status).toBe(201);
    expect(euro.body.name).toBe("€Sales");
    const bom = await api("POST", "/api/dashboards", {
      token: admin.token,
      rawBody: Uint8Array.from([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(JSON.stringify({ name: "With BOM" }))]),
      headers: { "content-type": "application/json" },
    });
    expect(bom.status).toBe(201);
    expect(bom.body.name).toBe("With BOM");
  });

  it("applies to every route that reads JSON, streamed bodies too", async () => {
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(Uint8Array.from([0x7b, 0x22, 0x65, 0x6d, 0x61, 0x69, 0x6c, 0x22, 0x3a, 0x22, 0xff]));
        controller.enqueue(new TextEncoder().encode('","password":"x"}'));
        controller.close();
      },
    });
    const res = await api("POST", "/api/auth/login", { rawBody: stream, headers: { "content-type": "application/json" } });
    expect(expectError(res, 400, "validation_error")).toEqual([{ field: "body", message: "Body is not valid UTF-8" }]);
  });
});

it("the grid check still runs on object widget bodies", async () => {
  const admin = await registerOrg();
  const dashboard = await newDashboard(admin);
  const res = await api("POST", `/api/dashboards/${dashboard.id}/widgets`, { token: admin.token, body: widgetBody({ x: 8, width: 6 }) });
  expect(expectError(res, 400, "validation_error")).toEqual([{ field: "width", message: expect.any(String) }]);
});

describe("the Content-Type gate and the JSON validator agree", () => {
  // The gate let `application/+json` and `application/a+b+json` through, the validator did not
  // read them, and the request was judged as `{}`: "name: expected string" for a body with a name.
  const mediaType = fc
    .tuple(
      fc.constantFrom("application", "APPLICATION", "Application", "text", "application "),
      fc.constantFrom("/", "/ "),
      fc.constantFrom("", "+", "vnd.api+", "a+b+", "x_y+", "x-y.z+", "merge-patch+", "-+", "."),
      fc.constantFrom("json", "JSON", "json5", "jsonx", "Json"),
      fc.constantFrom("", ";", "; charset=utf-8", " ; charset=UTF-8", ";;", "; x", ", text/plain"),
    )
    .map((parts) => parts.join(""));

  it("any Content-Type is either refused as not JSON, or its body is read", async () => {
    const admin = await registerOrg();
    await fc.assert(
      fc.asyncProperty(mediaType, async (contentType) => {
        const res = await api("POST", "/api/dashboards", { token: admin.token, rawBody: JSON.stringify({ name: "Typed" }), headers: { "content-type": contentType } });
        if (res.status === 201) return;
        expect(expectError(res, 400, "validation_error"), contentType).toEqual([{ field: "body", message: "Expected Content-Type application/json" }]);
      }),
      { seed: 8, numRuns: 120 },
    );
  });

  it.each([["application/+json"], ["application/a+b+json"]])("%s is refused as not JSON", async (contentType) => {
    const admin = await registerOrg();
    const res = await api("POST", "/api/dashboards", { token: admin.token, rawBody: JSON.stringify({ name: "Typed" }), headers: { "content-type": contentType } });
    expect(expectError(res, 400, "validation_error")).toEqual([{ field: "body", message: "Expected Content-Type application/json" }]);
  });
});

describe("free-form JSON (layout, config) is stored as sent, or refused", () => {
  const send = async (admin: { token: string }, layout: string) =>
    api("POST", "/api/dashboards", { token: admin.token, rawBody: `{"name":"Free","layout":${layout}}`, headers: { "content-type": "application/json" } });

  // 1e309 parses as Infinity and was stored as null; a top-level "__proto__" key vanished.
  it.each([
    ['{"a":1e309}', "layout.a", "Numbers must be finite"],
    ['{"a":[1,-1e309]}', "layout.a.1", "Numbers must be finite"],
    ['{"__proto__":{"x":1}}', "layout.__proto__", 'The key "__proto__" is not allowed'],
    ['{"a":{"b":{"__proto__":1}}}', "layout.a.b.__proto__", 'The key "__proto__" is not allowed'],
  ])("layout %s is a 400 on %s", async (layout, field, message) => {
    const admin = await registerOrg();
    const before = await count("dashboards");
    expect(expectError(await send(admin, layout), 400, "validation_error")).toEqual([{ field, message }]);
    expect(await count("dashboards")).toBe(before);
  });

  it("the same rule holds for a widget's config", async () => {
    const admin = await registerOrg();
    const dashboard = await newDashboard(admin);
    const res = await api("POST", `/api/dashboards/${dashboard.id}/widgets`, {
      token: admin.token,
      rawBody: JSON.stringify(widgetBody()).replace('"config":{}', '"config":{"__proto__":{"query":"SELECT 1"},"max":1e999}'),
      headers: { "content-type": "application/json" },
    });
    expect(fieldsOf(expectError(res, 400, "validation_error"))).toEqual(["config.__proto__"]);
  });

  it("keeps keys like constructor and prototype, deep nesting and big finite numbers exactly", async () => {
    const admin = await registerOrg();
    const layout = '{"constructor":{"prototype":1},"toString":"x","deep":' + "[".repeat(2000) + "1e308" + "]".repeat(2000) + ',"n":-0.5}';
    const res = await send(admin, layout);
    expect(res.status).toBe(201);
    const read = await api("GET", `/api/dashboards/${res.body.id}`, { token: admin.token });
    expect(read.body.layout).toEqual(JSON.parse(layout));
  });
});

describe("strings are valid Unicode", () => {
  // "\ud800" is valid JSON but no UTF-8 holds it: D1 stored three U+FFFD in its place.
  it.each([
    ['{"name":"\\ud800"}', "name"],
    ['{"name":"a\\udfffb"}', "name"],
    ['{"name":"ok","layout":{"k":["x","\\udbff"]}}', "layout.k.1"],
    ['{"name":"ok","layout":{"\\ud800":1}}', "layout.\ud800"],
    // Titles as JSON text: a lone surrogate in a test name cannot travel to the runner.
  ].map(([text, field]) => [JSON.stringify(text), JSON.stringify(field), text!, field!] as const))("%s is a 400 on %s", async (_t, _f, text, field) => {
    const admin = await registerOrg();
    const before = await count("dashboards");
    const res = await api("POST", "/api/dashboards", { token: admin.token, rawBody: text, headers: { "content-type": "application/json" } });
    const details = expectError(res, 400, "validation_error");
    expect(JSON.stringify(details)).toBe(JSON.stringify([{ field, message: "Must be valid Unicode text (a lone surrogate is not)" }]));
    expect(await count("dashboards")).toBe(before);
  });

  it("keeps an escaped surrogate pair (an emoji) exactly", async () => {
    const admin = await registerOrg();
    const res = await api("POST", "/api/dashboards", { token: admin.token, rawBody: '{"name":"\\ud83d\\ude00 \\\\ud800"}', headers: { "content-type": "application/json" } });
    expect(res.status).toBe(201);
    expect(res.body.name).toBe("😀 \\ud800");
  });
});

describe("search is a substring, whatever its length or bytes", () => {
  // q went into a LIKE pattern: D1 refuses patterns over 50 bytes (a 500 for a 49-character
  // search), and a NUL cut the pattern short so it matched every name.
  it.each([
    ["a 49-character search", "%' AND 1=0 UNION SELECT sql FROM sqlite_master --"],
    ["a 190-character search", "n".repeat(190)],
    ["a NUL inside", "\u0000nul"],
    ["LIKE wildcards", "%_\\"],
    ["multi-byte text over 50 bytes", "ü".repeat(30)],
  ])("%s finds exactly the names that hold it", async (_name, q) => {
    const admin = await registerOrg();
    const hit = await newDashboard(admin, { name: `b ${q} a` });
    await newDashboard(admin, { name: "unrelated" });
    for (const path of ["/api/dashboards", "/api/data-sources"]) {
      const res = await api("GET", `${path}?q=${encodeURIComponent(q)}`, { token: admin.token });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      if (path === "/api/dashboards") expect(res.body.data.map((d: { id: string }) => d.id)).toEqual([hit.id]);
    }
  });

  it("still ignores ASCII case", async () => {
    const admin = await registerOrg();
    const hit = await newDashboard(admin, { name: "Quarterly Revenue" });
    const res = await api("GET", "/api/dashboards?q=rEvEnUe", { token: admin.token });
    expect(res.body.data.map((d: { id: string }) => d.id)).toEqual([hit.id]);
  });
});

describe("stored secrets decrypt to exactly what was sent", () => {
  // The decoder dropped a leading U+FEFF from a data-source password.
  it("a password that starts with a byte-order mark keeps it", async () => {
    const key = loadConfig(env).encryptionKey;
    for (const secret of ["\ufeffpassword", "\ufeff", "pass\ufeffword"]) {
      expect(await decryptSecret(await encryptSecret(secret, key), key)).toBe(secret);
    }
  });
});

describe("the Bearer scheme is case-insensitive (RFC 9110 §11.1)", () => {
  // `bearer <token>` was a 401 (and the rate limiter parsed the header with a regex of its own).
  it.each([["bearer"], ["BEARER"], ["bEaReR"]])("%s <token> authenticates", async (scheme) => {
    const admin = await registerOrg();
    const res = await api("GET", "/api/users/me", { headers: { authorization: `${scheme} ${admin.token}` } });
    expect(res.status).toBe(200);
    expect(res.body.id).toBe(admin.id);
  });

  it("anything else around the token still is not", async () => {
    const admin = await registerOrg();
    for (const header of [`Bearer  ${admin.token}`, `Bearer${admin.token}`, `Token ${admin.token}`, `Bearer ${admin.token} x`, `Bearer ${admin.token},Bearer ${admin.token}`]) {
      expectError(await api("GET", "/api/users/me", { headers: { authorization: header } }), 401, "unauthorized");
    }
  });
});

describe("the one rejected request that writes", () => {
  // The fuzz holds every rejected request to "the database is unchanged". The documented
  // exception is reuse detection: a refresh token presented after it was rotated is refused AND
  // ends its whole session (README, Security notes), so a thief and the owner both sign in again.
  it("a reused refresh token is a 401 that revokes its session", async () => {
    const admin = await registerOrg();
    const rotated = await api("POST", "/api/auth/refresh-token", { body: { refreshToken: admin.refreshToken } });
    expect(rotated.status).toBe(200);
    const open = async () => (await env.DB.prepare("SELECT count(*) AS n FROM refresh_tokens WHERE user_id = ? AND revoked_at IS NULL").bind(admin.id).first<{ n: number }>())!.n;
    expect(await open()).toBe(2); // the rotated token (rotated_at set) and its successor
    expectError(await api("POST", "/api/auth/refresh-token", { body: { refreshToken: admin.refreshToken } }), 401, "unauthorized");
    expect(await open()).toBe(0);
    expectError(await api("POST", "/api/auth/refresh-token", { body: { refreshToken: rotated.body.refreshToken } }), 401, "unauthorized");
    expectError(await api("GET", "/api/users/me", { token: rotated.body.accessToken }), 401, "unauthorized");
  });
});
