// The API document against the Worker itself: it is served, it describes exactly the routes the
// Hono app has, and the reference page and its files come from the bundled static assets.
// (Every response the suite sees is checked against the document by test/openapi-check.ts;
// the OpenAPI validator and openapi-typescript run in Node: test/node/openapi.test.ts.)
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { buildDocument, toOpenApiPath } from "../src/openapi/document";
import { OPERATIONS } from "../src/openapi/routes";
import { DOCS_FILES } from "../src/schemas/docs";
import { api, expectError, registerOrg } from "./helpers";
import { doc, problems, resolve } from "./openapi-check";
import { subscribe } from "./webhook-helpers";

describe("GET /api/openapi.json", () => {
  it("serves the document built from the route table, publicly and cacheably", async () => {
    const res = await api("GET", "/api/openapi.json");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.headers.get("cache-control")).toMatch(/^public, max-age=\d+$/);
    expect(res.body).toEqual(JSON.parse(JSON.stringify(buildDocument())));
    expect(res.body.openapi).toBe("3.1.0");
  });

  it("lists exactly the routes the Hono app has, no more and no fewer", () => {
    const served = new Set(
      createApp()
        .routes.filter((route) => route.method !== "ALL" && !route.path.includes("*"))
        .map((route) => `${route.method} ${route.path}`),
    );
    const documented = new Set(OPERATIONS.map((op) => `${op.method.toUpperCase()} ${op.path}`));
    expect([...served].filter((r) => !documented.has(r)), "served but not documented").toEqual([]);
    expect([...documented].filter((r) => !served.has(r)), "documented but not served").toEqual([]);
    const paths = buildDocument().paths;
    const inDocument = Object.entries(paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    expect(inDocument.sort()).toEqual([...documented].map((r) => r.replace(/ (.*)$/, (_m, p: string) => ` ${toOpenApiPath(p)}`)).sort());
  });
});

describe("the document's own examples", () => {
  it("match the schemas they illustrate", () => {
    for (const [name, response] of Object.entries<any>(doc.components.responses)) {
      const media = response.content["application/json"];
      expect(problems(media.example, media.schema), name).toEqual([]);
    }
  });
});

describe("GET /api/docs", () => {
  it("serves the reference page from the static assets, under a same-origin-only CSP", async () => {
    const res = await api("GET", "/api/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.body).toContain('<div id="swagger-ui">');
    expect(res.body).toContain('src="/api/docs/swagger-ui-bundle.js"');
    const csp = res.headers.get("content-security-policy")!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/https?:|\*/);
  });

  it("serves every file the page uses, with its type", async () => {
    for (const [file, type] of Object.entries(DOCS_FILES)) {
      if (type.startsWith("image/")) {
        // Bytes, not text (api() reads bodies as text).
        const res = await SELF.fetch(`http://edgeboard.test/api/docs/${file}`);
        expect(res.status, file).toBe(200);
        expect(res.headers.get("content-type"), file).toBe(type);
        expect([...new Uint8Array(await res.arrayBuffer()).slice(1, 4)], file).toEqual([0x50, 0x4e, 0x47]); // "PNG"
        continue;
      }
      const res = await api("GET", `/api/docs/${file}`);
      expect(res.status, file).toBe(200);
      expect(res.headers.get("content-type"), file).toBe(type);
      expect(res.headers.get("content-security-policy"), file).toContain("default-src 'none'");
    }
    const bundle = await api("GET", "/api/docs/swagger-ui-bundle.js");
    expect(bundle.body.length).toBeGreaterThan(100_000);
    expect(bundle.body).toContain("SwaggerUIBundle");
    const init = await api("GET", "/api/docs/docs.js");
    expect(init.body).toContain('url: "/api/openapi.json"');
  });

  it("answers 404 in the API's error shape for any other file", async () => {
    for (const path of ["/api/docs/LICENSE", "/api/docs/index.html", "/api/docs/../wrangler.toml", "/api/docs/nope.js"]) {
      expectError(await api("GET", path), 404, "not_found");
    }
  });
});

describe("the document's webhooks section", () => {
  it("describes exactly what a subscriber receives for each of the six events and the ping", async () => {
    const admin = await registerOrg();
    const sub = await subscribe(admin, { events: ["*"] });
    const token = admin.token;
    // Every event, through the real routes and the real Queue.
    const dashboard = await api("POST", "/api/dashboards", { token, body: { name: "Sales" } });
    const d = dashboard.body.id as string;
    await api("PATCH", `/api/dashboards/${d}`, { token, body: { name: "Sales 2026", isPublic: true } });
    const widget = await api("POST", `/api/dashboards/${d}/widgets`, {
      token,
      body: { type: "metric", title: "Orders", x: 0, y: 0, width: 4, height: 2 },
    });
    await api("PATCH", `/api/dashboards/${d}/widgets/${widget.body.id}`, { token, body: { width: 6 } });
    await api("DELETE", `/api/dashboards/${d}/widgets/${widget.body.id}`, { token });
    await api("DELETE", `/api/dashboards/${d}`, { token });
    await api("POST", `/api/webhooks/${sub.id}/ping`, { token });

    const received = await sub.sink.waitFor(7);
    const events = new Set<string>();
    for (const delivery of received) {
      const body = JSON.parse(delivery.body);
      events.add(body.event);
      const operation = doc.webhooks[body.event]?.post;
      expect(operation, `${body.event} is not in the webhooks section`).toBeDefined();
      const failures = problems(body, operation.requestBody.content["application/json"].schema);
      for (const parameter of operation.parameters.map(resolve)) {
        const value = delivery.headers[parameter.name];
        if (value === undefined) failures.push(`header ${parameter.name} missing`);
        else failures.push(...problems(value, parameter.schema).map((p) => `header ${parameter.name}${p}`));
      }
      expect(failures, `${body.event}: ${delivery.body}`).toEqual([]);
      expect(delivery.headers["content-type"]).toBe("application/json");
    }
    expect([...events].sort()).toEqual(Object.keys(doc.webhooks).sort());
  });
});
