// Structured one-line JSON logs; Workers Logs indexes the fields. Callers never pass secrets.
import { DrizzleQueryError } from "drizzle-orm";
import { requestContext } from "./request-context";

type Level = "info" | "warn" | "error";

export function log(level: Level, message: string, fields: Record<string, unknown> = {}): void {
  const requestId = requestContext.getStore()?.requestId;
  const line = JSON.stringify({ level, message, ...(requestId && { requestId }), ...fields, time: new Date().toISOString() });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}

export function errorFields(err: unknown): Record<string, unknown> {
  // Drizzle puts the bound values (password and token hashes, ciphertexts) in its message and
  // stack: log the SQL text and D1's reason instead.
  if (err instanceof DrizzleQueryError) {
    const cause = err.cause instanceof Error ? err.cause : undefined;
    return { errorName: "DrizzleQueryError", query: err.query, errorMessage: cause?.message ?? "query failed", stack: cause?.stack };
  }
  if (err instanceof Error) return { errorName: err.name, errorMessage: err.message, stack: err.stack };
  return { errorMessage: String(err) };
}
