// Builds the OpenAPI 3.1 document from the route table (./routes.ts) and the zod schemas the
// routes validate with and answer in, through zod 4's JSON Schema output (draft 2020-12, the
// dialect OpenAPI 3.1 uses). Pure: no `cloudflare:*` imports, so Node tooling imports it too.
import { z } from "zod";
import pkg from "../../package.json";
import { ERROR_CODES, STATUS_BY_CODE, codesForStatus } from "../lib/errors";
import { POLICY_DEFINITIONS, RATE_LIMIT_HEADER_NAMES, type RateLimitHeaderName } from "../lib/rate-limit";
import { SANE_REQUEST_ID } from "../lib/request-context";
import { EVENT_COMPONENTS, REQUEST_COMPONENTS, RESPONSE_COMPONENTS } from "./components";
import { OPERATIONS, TAGS, type DocumentedHeader, type OperationSpec, type RequestHeader } from "./routes";

type Json = Record<string, unknown>;

const ref = (kind: "schemas" | "responses" | "headers" | "parameters" | "requestBodies", name: string) => ({
  $ref: `#/components/${kind}/${name}`,
});
const schemaUri = (name: string) => `#/components/schemas/${name}`;
const requestBodyUri = (name: string) => `#/components/requestBodies/${name}/content/application~1json/schema`;

/** `/api/dashboards/:id` → `/api/dashboards/{id}`. */
export const toOpenApiPath = (honoPath: string) => honoPath.replace(/:([A-Za-z0-9_]+)/g, "{$1}");

/** The path parameters a Hono path names, in order. */
const pathParamNames = (honoPath: string) => [...honoPath.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!);

const SAFE_INTEGER = Number.MAX_SAFE_INTEGER;

/** Trims zod's output for readers: a format says what its pattern spells out; JS's safe-integer range goes without saying. */
function tidy({ jsonSchema }: { jsonSchema: Json }): void {
  if (typeof jsonSchema.format === "string" && ["date-time", "uuid", "email"].includes(jsonSchema.format)) delete jsonSchema.pattern;
  if (jsonSchema.minimum === -SAFE_INTEGER) delete jsonSchema.minimum;
  if (jsonSchema.maximum === SAFE_INTEGER) delete jsonSchema.maximum;
}
const JSON_SCHEMA_OPTIONS = { target: "draft-2020-12", unrepresentable: "throw", override: tidy } as const;

function renderComponents(named: Record<string, z.ZodType>, io: "input" | "output", uri: (id: string) => string): Record<string, Json> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(named)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, { ...JSON_SCHEMA_OPTIONS, io, uri });
  // Components are embedded in the document: no dialect or fragment-only $id of their own.
  return Object.fromEntries(Object.entries(schemas).map(([id, { $schema: _s, $id: _i, ...schema }]) => [id, schema]));
}

function nameOf(names: Map<z.ZodType, string>, schema: z.ZodType, where: string): string {
  const name = names.get(schema);
  if (!name) throw new Error(`${where}: its schema has no name in src/openapi/components.ts`);
  return name;
}

// ---- Errors

/** The error responses, one per status, each naming the codes that answer with it. */
export const ERROR_RESPONSES: Record<number, { name: string; description: string; example: string }> = {
  400: {
    name: "ValidationError",
    description: "The request is malformed or fails validation; `details` lists each field",
    example: "Request validation failed",
  },
  401: { name: "Unauthorized", description: "No valid access token, or wrong credentials", example: "Invalid or expired access token" },
  403: {
    name: "Forbidden",
    description: "The caller's role is not enough, or the action is not allowed",
    example: "This action requires the editor role or higher",
  },
  404: {
    name: "NotFound",
    description: "No such resource in the caller's organization (a malformed id is the same)",
    example: "Dashboard not found",
  },
  405: { name: "MethodNotAllowed", description: "The path exists under other methods, listed in `Allow`", example: "Method PUT is not allowed on this route" },
  409: { name: "Conflict", description: "The request conflicts with the current state", example: "An account with this email already exists" },
  412: {
    name: "PreconditionFailed",
    description: "`If-Match` names a version that is no longer current",
    example: "The dashboard has changed since you read it; fetch it again and retry",
  },
  413: { name: "PayloadTooLarge", description: "The body exceeds MAX_BODY_BYTES", example: "Request body exceeds 1048576 bytes" },
  429: {
    name: "TooManyRequests",
    description: "A rate limit is spent; retry after `Retry-After` seconds",
    example: "Too many requests; retry in 30 seconds",
  },
  500: {
    name: "InternalServerError",
    description: "Something went wrong on the server (logged with the request id)",
    example: "Something went wrong",
  },
  503: {
    name: "ServiceUnavailable",
    description: "A dependency (D1, the rate limiter of a fail-closed route) is unavailable",
    example: "The database is unavailable",
  },
};

/** The error statuses an operation can answer with (see OperationSpec.errors). */
export function errorStatuses(op: OperationSpec): number[] {
  const statuses = new Set(op.errors ?? []);
  // The JSON validator refuses a malformed or non-JSON body; the query validator bad values.
  if (op.body || op.query) statuses.add(400);
  if (op.method === "post" || op.method === "patch") statuses.add(413);
  if (op.auth === "bearer") statuses.add(401);
  if (op.role) statuses.add(403);
  if (op.params) statuses.add(404);
  if (op.rateLimits?.some((name) => POLICY_DEFINITIONS[name].failClosed)) statuses.add(503);
  // Every route passes the global limiter, and anything can fail.
  statuses.add(429);
  statuses.add(500);
  return [...statuses].sort((a, b) => a - b);
}

function errorResponse(status: number): Json {
  const meta = ERROR_RESPONSES[status];
  const codes = codesForStatus(status);
  if (!meta || codes.length === 0) throw new Error(`No error code of src/lib/errors.ts answers with ${status}`);
  return {
    description: `${meta.description}. Codes: ${codes.map((c) => `\`${c}\``).join(", ")}.`,
    headers: {
      ...commonHeaders(),
      ...(status === 429 && { "Retry-After": ref("headers", "Retry-After") }),
      ...(status === 405 && { Allow: ref("headers", "Allow") }),
    },
    content: {
      "application/json": {
        schema: {
          allOf: [
            ref("schemas", "Error"),
            { type: "object", properties: { error: { type: "object", properties: { code: { enum: codes } } } } },
          ],
        },
        example: {
          error: {
            code: codes[0],
            message: meta.example,
            details: status === 400 ? [{ field: "name", message: "Must not be empty" }] : [],
          },
        },
      },
    },
  };
}

// ---- Headers

const RATE_LIMIT_HEADER_DOCS: Record<RateLimitHeaderName, string> = {
  "RateLimit-Policy": 'Every policy that judged the request: `"<name>";q=<limit>;w=<window seconds>`, comma-separated',
  RateLimit: 'What is left of each policy: `"<name>";r=<remaining>;t=<seconds to reset>`, comma-separated',
  "X-RateLimit-Limit": "The tightest policy's limit",
  "X-RateLimit-Remaining": "Requests left in the tightest policy's window",
  "X-RateLimit-Reset": "When the tightest policy's window resets (Unix seconds)",
};

const HEADERS = {
  "X-Request-Id": {
    description:
      "The request's id, in every log line it caused: the client's own X-Request-Id when it is a plain token, " +
      "else Cloudflare's Ray ID or a fresh UUID. Quote it when reporting a problem.",
    required: true,
    schema: { type: "string", pattern: SANE_REQUEST_ID.source },
  },
  "Retry-After": { description: "Seconds until the refused request may be retried", required: true, schema: { type: "string", pattern: "^[0-9]+$" } },
  Allow: { description: "The methods the path takes", required: true, schema: { type: "string" } },
  ETag: {
    description: 'The dashboard\'s version as an entity tag: `"<version>"` on writes, `"<version>.<digest>"` on GET; send it back in If-Match / If-None-Match',
    required: true,
    schema: { type: "string", pattern: '^"[0-9]+(\\.[0-9a-f]+)?"$' },
  },
  "Cache-Control": {
    description: "`no-store` on API answers (tokens and private data stay out of caches); the document and its reference page are public for a few minutes",
    required: true,
    schema: { type: "string" },
  },
  "Content-Security-Policy": {
    description: "The reference page runs only its own scripts and styles, and loads nothing from elsewhere",
    schema: { type: "string" },
  },
} satisfies Record<DocumentedHeader | "X-Request-Id" | "Cache-Control" | "Retry-After" | "Allow", Json>;

const RATE_LIMIT_HEADERS = Object.fromEntries(
  RATE_LIMIT_HEADER_NAMES.map((name) => [
    name,
    {
      description: `${RATE_LIMIT_HEADER_DOCS[name]}. Present when a rate-limit policy judged the request.`,
      schema: name.startsWith("X-") ? { type: "string", pattern: "^[0-9]+$" } : { type: "string" },
    },
  ]),
);

/** Headers every response carries (X-Request-Id, Cache-Control) or may carry (the rate-limit fields). */
function commonHeaders(): Json {
  return Object.fromEntries(["X-Request-Id", "Cache-Control", ...RATE_LIMIT_HEADER_NAMES].map((name) => [name, ref("headers", name)]));
}

const REQUEST_HEADERS: Record<RequestHeader, { component: string; parameter: Json }> = {
  "If-Match": {
    component: "IfMatch",
    parameter: {
      name: "If-Match",
      in: "header",
      required: false,
      description: "Apply only if the resource's ETag is still this one (412 `precondition_failed` otherwise)",
      schema: { type: "string" },
    },
  },
  "If-None-Match": {
    component: "IfNoneMatch",
    parameter: {
      name: "If-None-Match",
      in: "header",
      required: false,
      description: "Answer 304 Not Modified, without a body, if the resource's ETag is still this one",
      schema: { type: "string" },
    },
  },
};

// ---- Webhooks

const WEBHOOK_HEADERS: Record<string, Json> = {
  WebhookId: {
    name: "webhook-id",
    in: "header",
    required: true,
    description: "The delivery id: the same on every retry and redelivery (de-duplicate on it)",
    schema: { type: "string", format: "uuid" },
  },
  WebhookTimestamp: {
    name: "webhook-timestamp",
    in: "header",
    required: true,
    description: "This attempt's time in Unix seconds (reject ones too far from now)",
    schema: { type: "string", pattern: "^[0-9]+$" },
  },
  WebhookSignature: {
    name: "webhook-signature",
    in: "header",
    required: true,
    description:
      "`v1,<base64 HMAC-SHA256>` over `${webhook-id}.${webhook-timestamp}.${raw body}`, keyed by the base64-decoded " +
      "part of the secret after `whsec_` (Standard Webhooks). During a rotation's 24-hour grace, two signatures " +
      "separated by a space; accept if any matches.",
    schema: { type: "string", pattern: "^v1,[A-Za-z0-9+/=]+( v1,[A-Za-z0-9+/=]+)*$" },
  },
  WebhookUserAgent: {
    name: "user-agent",
    in: "header",
    required: true,
    schema: { type: "string", const: "Edgeboard-Webhooks/1.0" },
  },
};

const WEBHOOK_SUMMARIES: Record<keyof typeof EVENT_COMPONENTS, string> = {
  "dashboard.created": "A dashboard was created",
  "dashboard.updated": "A dashboard was changed",
  "dashboard.deleted": "A dashboard was deleted (after a widget.deleted for each of its widgets)",
  "widget.created": "A widget was added",
  "widget.updated": "A widget was changed",
  "widget.deleted": "A widget was deleted (also when its dashboard is)",
  "webhook.ping": "A test delivery, sent only on POST /api/webhooks/{id}/ping",
};

function webhookOperation(event: keyof typeof EVENT_COMPONENTS): Json {
  return {
    post: {
      operationId: `${event.replace(/\.(\w)/g, (_m, c: string) => c.toUpperCase())}Event`,
      summary: WEBHOOK_SUMMARIES[event],
      description:
        "POSTed to every active subscription listening to this event (or to `*`), at least once: retried on " +
        "WEBHOOK_RETRY_SCHEDULE until a 2xx. Deliveries are concurrent: order by `timestamp`, not arrival.",
      security: [],
      parameters: Object.keys(WEBHOOK_HEADERS).map((name) => ref("parameters", name)),
      requestBody: { required: true, content: { "application/json": { schema: ref("schemas", EVENT_COMPONENTS[event]) } } },
      responses: {
        "2XX": { description: "Delivered: no further attempts" },
        "410": { description: "Gone: the delivery fails at once and the subscription is disabled" },
        default: {
          description: "Any other answer, a redirect (not followed), a network error or no answer within WEBHOOK_TIMEOUT_MS: retried",
        },
      },
    },
  };
}

// ---- Operations

const ROLE_TEXT = { editor: "editors and admins", admin: "admins" } as const;

function parameters(op: OperationSpec): Json[] {
  const out: Json[] = [];
  const inPath = pathParamNames(op.path);
  for (const [where, schema] of [["path", op.params], ["query", op.query]] as const) {
    if (!schema) continue;
    const js = z.toJSONSchema(schema, { ...JSON_SCHEMA_OPTIONS, io: "input" }) as {
      properties?: Record<string, Json>;
      required?: string[];
    };
    for (const [name, { description, ...property }] of Object.entries(js.properties ?? {})) {
      out.push({
        name,
        in: where,
        required: where === "path" || (js.required ?? []).includes(name),
        ...(description !== undefined && { description }),
        schema: property,
      });
    }
    if (where === "path") {
      const named = Object.keys(js.properties ?? {});
      if (named.join() !== inPath.join()) throw new Error(`${op.operationId}: path ${op.path} names ${inPath} but params validate ${named}`);
    }
  }
  if (!op.params && inPath.length > 0) throw new Error(`${op.operationId}: ${op.path} has parameters but no params schema`);
  for (const header of op.requestHeaders ?? []) out.push(ref("parameters", REQUEST_HEADERS[header].component));
  return out;
}

function operationDescription(op: OperationSpec): string {
  const lines = op.description ? [op.description] : [];
  if (op.auth === "public") lines.push("No token needed.");
  else lines.push(op.role ? `For ${ROLE_TEXT[op.role]} (403 \`forbidden\` for other roles).` : "For any member of the organization.");
  if (op.rateLimits?.length) {
    const names = op.rateLimits.map((name) => POLICY_DEFINITIONS[name]);
    const closed = names.filter((p) => p.failClosed);
    lines.push(
      `Rate limits besides the global one: ${names.map((p) => `\`${p.name}\``).join(", ")}` +
        (closed.length ? " (fail closed: 503 when the limiter cannot answer)." : "."),
    );
  }
  return lines.join("\n\n");
}

function operation(op: OperationSpec, responseNames: Map<z.ZodType, string>, requestNames: Map<z.ZodType, string>): Json {
  const responses: Json = {};
  for (const [status, response] of Object.entries(op.responses)) {
    const headers = { ...commonHeaders(), ...Object.fromEntries((response.headers ?? []).map((h) => [h, ref("headers", h)])) };
    let content: Json | undefined;
    if (response.schema) {
      content = { "application/json": { schema: ref("schemas", nameOf(responseNames, response.schema, `${op.operationId} ${status}`)) } };
    } else if (response.media) {
      content = Object.fromEntries(response.media.map((type) => [type, { schema: { type: "string" } }]));
    }
    responses[status] = { description: response.description, headers, ...(content && { content }) };
  }
  for (const status of errorStatuses(op)) responses[status] = ref("responses", ERROR_RESPONSES[status]?.name ?? String(status));
  return {
    operationId: op.operationId,
    tags: [op.tag],
    summary: op.summary,
    description: operationDescription(op),
    ...(op.auth === "public" && { security: [] }),
    ...(op.role && { "x-required-role": op.role }),
    ...(op.rateLimits?.length && { "x-rate-limit-policies": op.rateLimits.map((name) => POLICY_DEFINITIONS[name].name) }),
    parameters: parameters(op),
    ...(op.body && { requestBody: ref("requestBodies", nameOf(requestNames, op.body, `${op.operationId} body`)) }),
    responses,
  };
}

function introduction(): string {
  const codes = ERROR_CODES.map((code) => `\`${code}\` ${STATUS_BY_CODE[code]}`).join(", ");
  return [
    "The Edgeboard REST API: dashboards, widgets, data sources and webhooks, on Cloudflare Workers.",
    "Every route needs `Authorization: Bearer <accessToken>` (from register, login or refresh-token) except health, " +
      "the four auth routes, the public dashboard view and this document. Roles: viewer < editor < admin " +
      "(`x-required-role` on an operation); another organization's resource is always 404.",
    `**Errors.** Every non-2xx response has the \`Error\` shape; each code always comes with the same status: ${codes}.`,
    "**Unknown routes.** A path no route matches is 404 `not_found`; a known path with another method is 405 " +
      "`method_not_allowed` with an `Allow` header. `OPTIONS` (CORS preflight) is answered for any path with 204.",
    "**Rate limits.** Every request counts against its user (valid token) or client IP; some routes have their own " +
      "policies too. Responses carry `RateLimit-Policy`, `RateLimit` and `X-RateLimit-*`; a spent limit answers 429 " +
      "with `Retry-After`.",
    "**Lists** take `page` (≥ 1) and `limit` (1–100) and answer `{ data, meta: { total, page, limit, pages } }`.",
    "**Dashboards are versioned**: every dashboard answer has `version` and an `ETag`; GET answers 304 to a " +
      "current `If-None-Match`, and PATCH/DELETE with a stale `If-Match` answer 412 `precondition_failed`.",
    "**Every response** carries `X-Request-Id` (send your own to trace a request), `Cache-Control` (`no-store` " +
      "for API answers) and security headers (a `default-src 'none'` Content-Security-Policy, `nosniff`, no framing).",
    "**Webhooks** (the `webhooks` section): signed POSTs in the Standard Webhooks format; see docs/webhooks.md.",
  ].join("\n\n");
}

export type OpenApiDocument = Json & { paths: Record<string, Record<string, Json>>; webhooks: Record<string, Json>; components: Json };

export function buildDocument(): OpenApiDocument {
  const requestNames = new Map(Object.entries(REQUEST_COMPONENTS).map(([name, schema]) => [schema, name]));
  const responseNames = new Map(Object.entries(RESPONSE_COMPONENTS).map(([name, schema]) => [schema, name]));
  const clash = Object.keys(REQUEST_COMPONENTS).find((name) => name in RESPONSE_COMPONENTS);
  if (clash) throw new Error(`Component ${clash} is both a request and a response schema`);

  const paths: Record<string, Record<string, Json>> = {};
  const ids = new Set<string>();
  for (const op of OPERATIONS) {
    if (ids.has(op.operationId)) throw new Error(`Duplicate operationId ${op.operationId}`);
    ids.add(op.operationId);
    const path = (paths[toOpenApiPath(op.path)] ??= {});
    if (path[op.method]) throw new Error(`Duplicate operation ${op.method} ${op.path}`);
    path[op.method] = operation(op, responseNames, requestNames);
  }

  const usedErrors = [...new Set([...OPERATIONS.flatMap(errorStatuses), 404, 405])].sort((a, b) => a - b);
  return {
    openapi: "3.1.0",
    info: {
      title: "Edgeboard API",
      version: pkg.version,
      description: introduction(),
    },
    tags: Object.entries(TAGS).map(([name, description]) => ({ name, description })),
    security: [{ bearerAuth: [] }],
    paths,
    webhooks: Object.fromEntries(Object.keys(EVENT_COMPONENTS).map((event) => [event, webhookOperation(event as keyof typeof EVENT_COMPONENTS)])),
    components: {
      schemas: renderComponents(RESPONSE_COMPONENTS, "output", schemaUri),
      // Request bodies as requestBodies, not schemas: their defaults make fields optional to send,
      // which is how type generators read a default inside a request body.
      requestBodies: Object.fromEntries(
        Object.entries(renderComponents(REQUEST_COMPONENTS, "input", requestBodyUri)).map(([name, schema]) => [
          name,
          { required: true, content: { "application/json": { schema } } },
        ]),
      ),
      responses: Object.fromEntries(usedErrors.map((status) => [ERROR_RESPONSES[status]!.name, errorResponse(status)])),
      parameters: {
        ...Object.fromEntries(Object.values(REQUEST_HEADERS).map(({ component, parameter }) => [component, parameter])),
        ...WEBHOOK_HEADERS,
      },
      headers: { ...HEADERS, ...RATE_LIMIT_HEADERS },
      securitySchemes: {
        bearerAuth: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description: "The `accessToken` from register, login or refresh-token; it ends with its session (logout, password change).",
        },
      },
    },
  };
}

let built: OpenApiDocument | undefined;

/** The document, built once per isolate. */
export const openApiDocument = (): OpenApiDocument => (built ??= buildDocument());
