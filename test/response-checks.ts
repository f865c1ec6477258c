// Checks run on every response the suite sees through `api()` (test/helpers.ts): each one
// inspects a request/response pair and throws (an assertion failure) when the response breaks a
// promise the API makes everywhere. Add a check here, not a per-test copy.
import { ApiError, type ErrorCode } from "../src/lib/errors";
import type { ApiResponse } from "./helpers";
import { secretScan } from "./secret-scan";
import { checkAgainstDocument } from "./openapi-check";

export interface Exchange {
  method: string;
  /** The path with its query string, as requested. */
  path: string;
  /** The request's JSON body (`options.body`), when there was one. */
  requestBody?: unknown;
  response: ApiResponse;
  /** The raw response text (for checks that scan bytes rather than parsed JSON). */
  text: string;
}

export type ResponseCheck = (exchange: Exchange) => void;

const checks: ResponseCheck[] = [];

export function registerResponseCheck(check: ResponseCheck): void {
  checks.push(check);
}

export function runResponseChecks(exchange: Exchange): void {
  for (const check of checks) check(exchange);
}

// Headers every response carries, whatever the route or status.
registerResponseCheck(({ method, path, response }) => {
  const where = `${method} ${path} → ${response.status}`;
  const h = response.headers;
  if (!h.get("x-request-id")) throw new Error(`${where}: no X-Request-Id`);
  if (h.get("x-content-type-options") !== "nosniff") throw new Error(`${where}: no X-Content-Type-Options: nosniff`);
  if (!h.get("content-security-policy")) throw new Error(`${where}: no Content-Security-Policy`);
  if (!h.get("cache-control")) throw new Error(`${where}: no Cache-Control`);
});

// No response carries a password hash, a stored ciphertext, a password a client sent, or a
// refresh token / webhook secret outside the one response that issues it (test/secret-scan.ts).
registerResponseCheck(secretScan);

// Every response is one the API document (GET /api/openapi.json) describes for its route and status.
registerResponseCheck(checkAgainstDocument);

// ---- Checks every response passes

/** The spec's error shape, exactly, with the status its code always maps to (src/lib/errors.ts). */
registerResponseCheck(({ method, path, response, text }) => {
  if (response.status < 400 || method === "HEAD") return;
  const where = `${method} ${path.slice(0, 200)} → ${response.status}: ${text.slice(0, 300)}`;
  const body = response.body as { error?: { code?: unknown; message?: unknown; details?: unknown } };
  if (!(response.headers.get("content-type") ?? "").startsWith("application/json")) throw new Error(`error response is not JSON: ${where}`);
  if (typeof body !== "object" || body === null || Object.keys(body).join() !== "error") throw new Error(`error body is not { error }: ${where}`);
  const { error } = body;
  if (typeof error !== "object" || error === null || Object.keys(error).sort().join() !== "code,details,message") {
    throw new Error(`error is not { code, message, details }: ${where}`);
  }
  // An unknown code maps to no status at all.
  if (typeof error.code !== "string" || new ApiError(error.code as ErrorCode, "").status !== response.status) {
    throw new Error(`error code does not match the status: ${where}`);
  }
  if (typeof error.message !== "string" || error.message === "") throw new Error(`error message is not a string: ${where}`);
  const details = error.details;
  if (
    !Array.isArray(details) ||
    !details.every((d) => typeof d === "object" && d !== null && Object.keys(d).sort().join() === "field,message" && typeof d.field === "string" && typeof d.message === "string")
  ) {
    throw new Error(`error details are not [{ field, message }]: ${where}`);
  }
});
