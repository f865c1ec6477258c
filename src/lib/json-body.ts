// What a route that takes a body accepts: JSON, in UTF-8, that survives storage as sent. Called
// by the JSON validator (src/lib/validate.ts), so it runs after each route's auth and role checks:
// who asks is judged before what they sent.
import type { Context } from "hono";
import { ApiError } from "./errors";
import { findInJson } from "./json-walk";

// The rule Hono's json validator reads a body by (hono/validator): the media type before any
// parameters, `application/json` or `application/<x>+json`. The gate must not be looser: a type
// it let through that the validator does not read (`application/+json`) had the body ignored
// and `{}` validated in its place.
const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;
export const isJsonContentType = (header: string | undefined) =>
  JSON_MEDIA_TYPE.test((header ?? "").split(";")[0]!.trim().toLowerCase());

// JSON text is UTF-8 (RFC 8259 §8.1). The body readers behind the validators replace bad bytes
// with U+FFFD, which would store something other than what the client sent: refuse them here.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

const LONE_SURROGATE = /[\ud800-\udfff]/u; // with the u flag, a surrogate pair is one code point and does not match

/**
 * A string (or key) of the body holding a lone surrogate: valid JSON (`"\ud800"`), but no UTF-8
 * can encode it, so D1 stored U+FFFD three times in its place and a hash or cipher saw other
 * bytes. Only a `\u` escape can make one (the bytes are UTF-8 by now). Malformed JSON is left
 * to the validator's error.
 */
function loneSurrogate(text: string) {
  if (!text.includes("\\u")) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  return findInJson(parsed, (value, key) =>
    (typeof key === "string" && LONE_SURROGATE.test(key)) || (typeof value === "string" && LONE_SURROGATE.test(value))
      ? "Must be valid Unicode text (a lone surrogate is not)"
      : null,
  );
}

/** A body must say it is JSON and be UTF-8 text without lone surrogates. */
export async function assertJsonBody(c: Context): Promise<void> {
  const length = c.req.header("content-length");
  const hasBody = (length !== undefined && length !== "0") || c.req.header("transfer-encoding") !== undefined;
  const isJson = isJsonContentType(c.req.header("content-type"));
  if (hasBody && !isJson) {
    throw new ApiError("validation_error", "Request body must be JSON (Content-Type: application/json)", [
      { field: "body", message: "Expected Content-Type application/json" },
    ]);
  }
  if (isJson && c.req.raw.body) {
    // Read once here; Hono caches the bytes for the validator.
    let text: string;
    try {
      text = utf8.decode(await c.req.arrayBuffer());
    } catch {
      throw new ApiError("validation_error", "Request body must be UTF-8", [{ field: "body", message: "Body is not valid UTF-8" }]);
    }
    const lone = loneSurrogate(text);
    if (lone) throw new ApiError("validation_error", "Request validation failed", [{ field: lone.path.join(".") || "body", message: lone.message }]);
  }
}
