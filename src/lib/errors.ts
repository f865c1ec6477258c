import type { ContentfulStatusCode } from "hono/utils/http-status";

/** A field-level problem, `field` being a dotted path into the request (`connection.port`). */
export interface ErrorDetail {
  field: string;
  message: string;
}

// The machine codes a client can see, and the HTTP status each one always maps to.
const STATUS_BY_CODE = {
  validation_error: 400,
  invalid_credentials: 401,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  precondition_failed: 412,
  payload_too_large: 413,
  rate_limit_exceeded: 429,
  internal_server_error: 500,
  service_unavailable: 503,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof STATUS_BY_CODE;

/** The one error type every layer throws; `onError` renders it in the spec's shape. */
export class ApiError extends Error {
  readonly status: ContentfulStatusCode;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetail[] = [],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "ApiError";
    this.status = STATUS_BY_CODE[code];
  }

  toBody() {
    return { error: { code: this.code, message: this.message, details: this.details } };
  }
}

export const notFound = (what = "Resource") => new ApiError("not_found", `${what} not found`);

export const validationError = (field: string, message: string) =>
  new ApiError("validation_error", "Request validation failed", [{ field, message }]);

export const conflict = (message: string, details: ErrorDetail[] = []) => new ApiError("conflict", message, details);

export const forbidden = (message = "You do not have permission to perform this action") =>
  new ApiError("forbidden", message);

export const unauthorized = (message = "Authentication required") => new ApiError("unauthorized", message);
