import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ErrorBody } from "../schemas/errors";

/** A field-level problem, `field` being a dotted path into the request (`connection.port`). */
export interface ErrorDetail {
  field: string;
  message: string;
}

// The machine codes a client can see, and the HTTP status each one always maps to.
export const STATUS_BY_CODE = {
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
export const ERROR_CODES = Object.keys(STATUS_BY_CODE) as [ErrorCode, ...ErrorCode[]];

/** The codes that answer with `status` (the API document lists them per response). */
export const codesForStatus = (status: number): ErrorCode[] => ERROR_CODES.filter((code) => STATUS_BY_CODE[code] === status);

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

  toBody(): ErrorBody {
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
