// Checks run on every response the suite sees through `api()` (test/helpers.ts): each one
// inspects a request/response pair and throws (an assertion failure) when the response breaks a
// promise the API makes everywhere. Add a check here, not a per-test copy.
import type { ApiResponse } from "./helpers";
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

// Every response is one the API document (GET /api/openapi.json) describes for its route and status.
registerResponseCheck(checkAgainstDocument);
