// What the generated requests of test/fuzz-api.test.ts found, each kept as a plain test of the
// shared mechanism that was fixed (the fuzz keeps finding its kind; these name the case).
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { newDashboard, newWidget, widgetBody } from "./crud-helpers";
import { api, expectError, registerOrg } from "./helpers";

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

  it("is judged before the token, like the Content-Type", async () => {
    const res = await api("POST", "/api/dashboards", { rawBody: body([0xff]), headers: { "content-type": "application/json" } });
    expectError(res, 400, "validation_error");
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
