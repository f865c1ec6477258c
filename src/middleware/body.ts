import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { ApiError } from "../lib/errors";
import { findInJson } from "../lib/json-walk";

const WITH_BODY = new Set(["POST", "PUT", "PATCH"]);
// The rule Hono's json validator reads a body by (hono/validator): the media type before any
// parameters, `application/json` or `application/<x>+json`. The gate must not be looser: a type
// it let through that the validator does not read (`application/+json`) had the body ignored
// and `{}` validated in its place.
const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;
export const isJsonContentType = (header: string | undefined) =>
  JSON_MEDIA_TYPE.test((header ?? "").split(";")[0]!.trim().toLowerCase());

// A refused chunked body is read to its end (up to this many times the limit) before answering,
// so the client and any proxy in front see a complete exchange; past that the stream is cancelled.
const DRAIN_FACTOR = 16;

async function discardRest(reader: ReadableStreamDefaultReader<Uint8Array>, budget: number): Promise<void> {
  for (let left = budget; left > 0; ) {
    const { done, value } = await reader.read();
    if (done) return;
    left -= value.byteLength;
  }
  await reader.cancel();
}

/**
 * Bodies over the configured size answer 413 before any handler reads them. A declared length
 * is judged from the header; a chunked body is read here up to the limit, and a refused one is
 * drained (within a bound) rather than left half-read.
 */
export const limitBody = createMiddleware<AppEnv>(async (c, next) => {
  const max = c.var.config.maxBodyBytes;
  const tooLarge = () => new ApiError("payload_too_large", `Request body exceeds ${max} bytes`);
  const declared = c.req.header("content-length");
  if (declared !== undefined) {
    if (Number(declared) > max) throw tooLarge();
  } else if (c.req.raw.body) {
    const reader = c.req.raw.body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > max) {
        await discardRest(reader, max * DRAIN_FACTOR - size);
        throw tooLarge();
      }
      chunks.push(value);
    }
    const body = new Uint8Array(size);
    let offset = 0;
    for (const chunk of chunks) {
      body.set(chunk, offset);
      offset += chunk.byteLength;
    }
    c.req.raw = new Request(c.req.raw, { body });
  }
  await next();
});

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
    (typeof key === "string" && LONE_SURROGATE.test(key)) || (typeof value === "string" && LONE_SURROGATE.test(value)) ? "Must be valid Unicode text (a lone surrogate is not)" : null,
  );
}

/** A request that carries a body must say it is JSON and be UTF-8: the API accepts nothing else. */
export const requireJsonBody = createMiddleware<AppEnv>(async (c, next) => {
  if (WITH_BODY.has(c.req.method)) {
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
  await next();
});
