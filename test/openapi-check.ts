// The response check that keeps the API document honest: every response the suite sees through
// `api()` must be one the document describes for its route and status — the body valid against
// that response's schema (with @cfworker/json-schema: no eval, so it runs in workerd), the media
// type one it lists, its required headers present and well-formed. A (route, status) the
// document does not list fails, and so does a path no route matches answering anything but the
// generic 404 (or 405 for a known path under another method). Registered in response-checks.ts.
import { dereference, validate, type Schema } from "@cfworker/json-schema";
import { expect } from "vitest";
import { ERROR_RESPONSES, errorStatuses, openApiDocument, toOpenApiPath } from "../src/openapi/document";
import { OPERATIONS, type OperationSpec } from "../src/openapi/routes";
import type { Exchange } from "./response-checks";

type Json = Record<string, any>;

const BASE = "https://edgeboard.test/openapi.json";
// A copy: the validator annotates the schema objects it indexes.
export const doc: Json = { ...structuredClone(openApiDocument()), $id: BASE };
const lookup = dereference(doc as Schema);

const routes = OPERATIONS.map((op) => ({
  op,
  pattern: new RegExp(`^${op.path.replace(/:[^/]+/g, "[^/]+")}$`),
  // Hono tries a static segment before a parameter (/api/users/me before /api/users/:id).
  params: (op.path.match(/:/g) ?? []).length,
}));

/**
 * Statuses the middleware in front of the routes can answer with on any path, matched or not: a
 * mounted router's auth and role checks, the body limit, the rate limiter, a failure.
 */
const GLOBAL_ERROR_STATUSES = [401, 403, 413, 429, 500];

/** Follows a `$ref` (to any depth) within the document. */
export const resolve = (value: Json): Json => {
  if (typeof value?.$ref !== "string") return value;
  const target = (value.$ref as string).replace(/^#\//, "").split("/").reduce<Json>((node, key) => node[key.replace(/~1/g, "/").replace(/~0/g, "~")], doc);
  return resolve(target);
};

function findOperation(method: string, pathname: string): { op?: OperationSpec; pathKnown: boolean } {
  const matching = routes.filter((r) => r.pattern.test(pathname));
  const wanted = method === "HEAD" ? "get" : method.toLowerCase();
  const op = matching.filter((r) => r.op.method === wanted).sort((a, b) => a.params - b.params)[0]?.op;
  return { op, pathKnown: matching.length > 0 };
}

/** Why `instance` does not match `schema` (a schema object from the document); empty when it does. */
export function problems(instance: unknown, schema: Json): string[] {
  const result = validate(instance, schema as Schema, "2020-12", lookup, false);
  if (result.valid) return [];
  // The validator also reports each failure once more for every schema above it: keep the specific ones.
  const specific = result.errors.filter((e) => !/subschema|had errors|do not match/i.test(e.error));
  return (specific.length ? specific : result.errors).slice(0, 8).map((e) => `${e.instanceLocation}: ${e.error}`);
}

function checkAgainst(response: Json, exchange: Exchange, where: string): void {
  const { response: res, text } = exchange;
  const failures: string[] = [];
  for (const [name, header] of Object.entries<Json>(response.headers ?? {})) {
    const spec = resolve(header);
    const value = res.headers.get(name);
    if (value === null) {
      if (spec.required) failures.push(`header ${name} is required but missing`);
      continue;
    }
    failures.push(...problems(value, spec.schema ?? {}).map((p) => `header ${name} ${JSON.stringify(value)}${p}`));
  }
  const content = response.content as Json | undefined;
  const type = (res.headers.get("content-type") ?? "").split(";")[0]!.trim();
  if (!content) {
    if (text !== "") failures.push(`documented without a body, got ${JSON.stringify(text.slice(0, 200))}`);
  } else if (!(type in content)) {
    failures.push(`content-type ${JSON.stringify(type)} is not one of ${Object.keys(content).join(", ")}`);
  } else if (type === "application/json") {
    failures.push(...problems(res.body, content[type].schema).map((p) => `body${p}`));
  }
  expect(failures, `${where}: the response breaks the API document\n${text.slice(0, 600)}`).toEqual([]);
}

export function checkAgainstDocument(exchange: Exchange): void {
  const { method, response } = exchange;
  const pathname = new URL(exchange.path, "http://edgeboard.test").pathname;
  const where = `${method} ${pathname} → ${response.status}`;

  // CORS preflight: the CORS middleware answers it for every path, before any route.
  if (method === "OPTIONS") {
    expect(response.status, where).toBe(204);
    return;
  }

  const { op, pathKnown } = findOperation(method, pathname);
  if (!op) {
    // No operation: the generic 404, a 405 naming the methods the path takes, or an answer of
    // the middleware in front of every route (a mounted router's auth, the limiter, body checks).
    const expected = pathKnown ? 405 : 404;
    const status = response.status;
    expect([expected, ...GLOBAL_ERROR_STATUSES], `${where}: undocumented route answered an unexpected status`).toContain(status);
    const generic = doc.components.responses[ERROR_RESPONSES[status]!.name];
    // A HEAD answer is a GET's without its body.
    checkAgainst(method === "HEAD" ? { ...generic, content: undefined } : generic, exchange, `${where} (no such route)`);
    return;
  }

  const openApiPath = toOpenApiPath(op.path);
  const documented = doc.paths[openApiPath][op.method].responses as Json;
  const entry = documented[String(response.status)];
  expect(
    entry,
    `${where}: ${op.operationId} documents ${Object.keys(documented).join(", ")} (errors: ${errorStatuses(op).join(", ")})\n${exchange.text.slice(0, 400)}`,
  ).toBeDefined();
  const spec = resolve(entry);
  // A HEAD answer is a GET's without its body.
  checkAgainst(method === "HEAD" ? { ...spec, content: undefined } : spec, exchange, `${where} (${op.operationId})`);
}
