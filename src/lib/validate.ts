import { zValidator } from "@hono/zod-validator";
import type { ValidationTargets } from "hono";
import type { ZodType } from "zod";
import { ApiError, type ErrorDetail } from "./errors";
import { assertJsonBody } from "./json-body";

type Issue = { path: PropertyKey[]; message: string; code?: string; keys?: string[] };

/** Turns zod issues into the spec's `details`, one per failing field, with dotted paths. */
export function issuesToDetails(issues: readonly Issue[]): ErrorDetail[] {
  return issues.flatMap((issue) => {
    const base = issue.path.map(String).join(".");
    // An unknown key is reported against the key itself, so clients see which one.
    if (issue.code === "unrecognized_keys" && issue.keys) {
      return issue.keys.map((key) => ({ field: base ? `${base}.${key}` : key, message: "Unknown field" }));
    }
    return [{ field: base || "body", message: issue.message }];
  });
}

/**
 * The only way request input enters a handler: `zValidator` with a hook that throws the
 * project's error, so every target (json, query, param) fails the same way. Validators sit
 * after a route's auth middleware, so nothing about the input is judged before who asks is.
 */
export const validate = <Target extends keyof ValidationTargets, Schema extends ZodType>(target: Target, schema: Schema) => {
  const validator = zValidator(target, schema, (result) => {
    if (!result.success) {
      // A bad path parameter (a malformed id) is a resource that does not exist.
      if (target === "param") throw new ApiError("not_found", "Resource not found");
      throw new ApiError("validation_error", "Request validation failed", issuesToDetails(result.error.issues));
    }
  });
  if (target !== "json") return validator;
  return (async (c, next) => {
    await assertJsonBody(c);
    return validator(c, next);
  }) as typeof validator;
};
