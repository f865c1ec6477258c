import { bodyLimit } from "hono/body-limit";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { ApiError } from "../lib/errors";

const WITH_BODY = new Set(["POST", "PUT", "PATCH"]);
const JSON_TYPE = /^application\/([a-z0-9.+-]*\+)?json(\s*;.*)?$/i;

/** Bodies over the configured size answer 413 before any handler reads them. */
export const limitBody = createMiddleware<AppEnv>((c, next) =>
  bodyLimit({
    maxSize: c.var.config.maxBodyBytes,
    onError: () => {
      throw new ApiError("payload_too_large", `Request body exceeds ${c.var.config.maxBodyBytes} bytes`);
    },
  })(c, next),
);

/** A request that carries a body must say it is JSON: the API accepts nothing else. */
export const requireJsonBody = createMiddleware<AppEnv>(async (c, next) => {
  if (WITH_BODY.has(c.req.method)) {
    const length = c.req.header("content-length");
    const hasBody = (length !== undefined && length !== "0") || c.req.header("transfer-encoding") !== undefined;
    if (hasBody && !JSON_TYPE.test(c.req.header("content-type") ?? "")) {
      throw new ApiError("validation_error", "Request body must be JSON (Content-Type: application/json)", [
        { field: "body", message: "Expected Content-Type application/json" },
      ]);
    }
  }
  await next();
});
