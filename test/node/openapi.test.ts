// The API document with real OpenAPI tooling, in Node (ajv and the TypeScript compiler do not
// run in workerd): it passes an OpenAPI 3.1 validator, and openapi-typescript's types from it
// type-check the README's example client (examples/client.ts, with openapi-fetch) and reject
// calls the API does not take.
import { Validator } from "@seriousme/openapi-schema-validator";
import openapiTS, { astToString } from "openapi-typescript";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { buildDocument } from "../../src/openapi/document";
import { OPERATIONS } from "../../src/openapi/routes";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const EXAMPLES = path.join(ROOT, "examples");

/** The README's client example: the TypeScript block of its "API document" section. */
function readmeExample(): string {
  const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## API document"), readme.indexOf("\n## ", readme.indexOf("## API document") + 1));
  const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error("README's API document section has no ts example");
  // The values it leaves to the reader.
  return `declare const email: string;\ndeclare const password: string;\ndeclare const id: string;\n${block}\nexport {};\n`;
}

/** Type-checks `files` (real or virtual, by absolute path) with the project's strictness. */
function typeCheck(virtual: Record<string, string>, roots: string[]): string[] {
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ES2022,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ["lib.es2023.d.ts", "lib.dom.d.ts"],
    types: [],
    strict: true,
    noUncheckedIndexedAccess: true,
    noUnusedLocals: true,
    noEmit: true,
    skipLibCheck: true,
  };
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.readFile = (file) => virtual[path.resolve(file)] ?? readFile(file);
  host.fileExists = (file) => path.resolve(file) in virtual || fileExists(file);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (file, language, ...rest) => {
    const text = virtual[path.resolve(file)];
    return text === undefined ? getSourceFile(file, language, ...rest) : ts.createSourceFile(file, text, language);
  };
  const program = ts.createProgram(roots, options, host);
  return ts
    .getPreEmitDiagnostics(program)
    .map((d) => `${d.file ? path.relative(ROOT, d.file.fileName) : ""}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`);
}

describe("the API document with OpenAPI tooling", () => {
  const document = buildDocument();

  it("is a valid OpenAPI 3.1 document", async () => {
    const validator = new Validator();
    const result = await validator.validate(JSON.parse(JSON.stringify(document)));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
    // And it is not a rubber stamp: a response without its required description fails.
    const broken = JSON.parse(JSON.stringify(document));
    delete broken.paths["/api/health"].get.responses["200"].description;
    expect((await new Validator().validate(broken)).valid).toBe(false);
  });

  it("has one operation per route, each with an operationId, and the six events plus the ping", () => {
    const operations = Object.values(document.paths).flatMap((item) => Object.values(item));
    expect(operations).toHaveLength(OPERATIONS.length);
    expect(new Set(operations.map((op) => op.operationId)).size).toBe(OPERATIONS.length);
    expect(Object.keys(document.webhooks).sort()).toEqual(
      ["dashboard.created", "dashboard.deleted", "dashboard.updated", "webhook.ping", "widget.created", "widget.deleted", "widget.updated"],
    );
  });

  it("generates TypeScript types that type-check the example client (and the README's) and reject wrong calls", async () => {
    const types = astToString(await openapiTS(JSON.parse(JSON.stringify(document))));
    const generated = path.join(EXAMPLES, "edgeboard-api.d.ts");
    const misuse = path.join(EXAMPLES, "misuse.check.ts");
    const readme = path.join(EXAMPLES, "readme.check.ts");
    const virtual = {
      [generated]: types,
      [readme]: readmeExample(),
      // Each line must fail to compile: with `any` types, the unused @ts-expect-error would.
      [misuse]: [
        'import createClient from "openapi-fetch";',
        'import type { paths } from "./edgeboard-api";',
        'const api = createClient<paths>({ baseUrl: "http://localhost:8787" });',
        "export async function misuse() {",
        "  // @ts-expect-error no such route",
        '  await api.GET("/api/dashboard");',
        "  // @ts-expect-error name is a string",
        '  await api.POST("/api/dashboards", { body: { name: 42 } });',
        "  // @ts-expect-error the path parameter is required",
        '  await api.GET("/api/dashboards/{id}", {});',
        "  // @ts-expect-error an unknown widget type",
        '  await api.POST("/api/dashboards/{dashboardId}/widgets", { params: { path: { dashboardId: "x" } }, body: { type: "gauge", title: "t", x: 0, y: 0, width: 1, height: 1 } });',
        '  const { data } = await api.GET("/api/users/me");',
        "  // @ts-expect-error users have no password field",
        "  return data?.passwordHash;",
        "}",
      ].join("\n"),
    };
    expect(types).toContain('"/api/dashboards/{id}"');
    expect(typeCheck(virtual, [path.join(EXAMPLES, "client.ts"), readme, misuse])).toEqual([]);
  });
});
