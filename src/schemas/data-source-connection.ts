import { z } from "zod";
import { FAILURE_CODES } from "../connectors/types";
import { DATA_SOURCE_TYPES, SSL_MODES, type SslMode } from "../db/schema";
import { canonicalHost, parseIpv4, parseIpv6 } from "../lib/host-guard";

// The connection settings a user may give a data source: an explicit allow-list, each field
// bounded. Nothing else reaches a driver (no raw driver options, no connection strings).

// NUL and other control characters would let a value smuggle extra fields into a wire
// protocol's NUL-terminated strings (e.g. PostgreSQL startup parameters).
const NO_CONTROL_CHARS = /^[^\u0000-\u001f\u007f]*$/;
const text = (max: number) =>
  z
    .string()
    .min(1, { message: "Required" })
    .max(max, { message: `Must be at most ${max} characters` })
    .regex(NO_CONTROL_CHARS, { message: "Must not contain control characters" });

export const dataSourceType = z.enum(DATA_SOURCE_TYPES);
export const sslMode = z.enum(SSL_MODES);

/** The fields of a connection, for composing create/update schemas (e.g. `.partial()`). */
export const connectionFields = {
  host: z
    .string()
    .trim()
    .min(1, { message: "Required", abort: true })
    .max(253, { message: "Must be at most 253 characters" })
    .refine((host) => canonicalHost(host) !== null, {
      message: "Must be a host name or IP address, without scheme, port or path",
    }),
  port: z.number().int().min(1).max(65535),
  database: text(128),
  username: text(128),
  // Empty is allowed: some servers have password-less accounts.
  password: z
    .string()
    .max(1024, { message: "Must be at most 1024 characters" })
    .regex(NO_CONTROL_CHARS, { message: "Must not contain control characters" })
    .optional(),
  /** Omitted: `disable` for loopback hosts, `prefer` otherwise (see `effectiveSslMode`). */
  ssl: sslMode.optional(),
};

export const dataSourceConnection = z.strictObject(connectionFields);

/** `POST /api/data-sources/test-connection`: the spec's body. */
export const testConnectionBody = z.strictObject({
  type: dataSourceType,
  connection: dataSourceConnection,
});

/** A connection test's answer: a failed connection is a successful test (200, `success: false`). */
export const connectionTestResult = z.discriminatedUnion("success", [
  z.object({
    success: z.literal(true),
    message: z.literal("Connection successful"),
    latencyMs: z.number().min(0),
    serverVersion: z.string().describe('The server\'s product and version, e.g. "PostgreSQL 15.4"'),
  }),
  z.object({
    success: z.literal(false),
    code: z.enum(FAILURE_CODES).describe("What went wrong, in words a person can act on (docs/connections.md)"),
    message: z.string(),
    details: z.array(z.object({ field: z.string(), message: z.string() })),
  }),
]);

export type ConnectionTestResult = z.output<typeof connectionTestResult>;
export type ConnectionInput = z.infer<typeof dataSourceConnection>;
export type TestConnectionInput = z.infer<typeof testConnectionBody>;

/** Loopback names and addresses in any spelling the host guard canonicalizes. */
export function isLoopbackHost(raw: string): boolean {
  const host = canonicalHost(raw);
  if (!host) return false;
  const name = host.toLowerCase().replace(/\.$/, "");
  if (name === "localhost" || name.endsWith(".localhost")) return true;
  const v4 = parseIpv4(name);
  if (v4) return v4[0] === 127;
  const v6 = parseIpv6(name);
  if (!v6) return false;
  if (v6.slice(0, 7).every((g) => g === 0) && v6[7] === 1) return true; // ::1
  // ::ffff:127.x.x.x
  return v6.slice(0, 5).every((g) => g === 0) && v6[5] === 0xffff && v6[6]! >> 8 === 127;
}

/** The SSL mode a connection uses: the stored/sent one, else the default for its host. */
export function effectiveSslMode(host: string, ssl?: SslMode | null): SslMode {
  return ssl ?? (isLoopbackHost(host) ? "disable" : "prefer");
}

/** The fields that say where a stored password is sent. */
export const CREDENTIAL_DESTINATION_FIELDS = ["host", "port", "database", "username"] as const;

type Destination = { host: string; port: number; database: string; username: string };

/**
 * True when a PATCH moves a saved source's credentials to a new destination (host, port,
 * database or username) without sending the password again: a stored secret is never
 * replayed to a destination the user did not type it for. The caller answers 400
 * `validation_error` on `password` (`PASSWORD_RESEND_MESSAGE`).
 */
export function requiresPasswordResend(before: Destination, patch: Partial<Destination> & { password?: string }): boolean {
  if (patch.password !== undefined) return false;
  return CREDENTIAL_DESTINATION_FIELDS.some((field) => {
    const next = patch[field];
    if (next === undefined) return false;
    if (field === "host") {
      const a = canonicalHost(String(next));
      const b = canonicalHost(before.host);
      return a === null || b === null ? next !== before.host : a !== b;
    }
    return next !== before[field];
  });
}

export const PASSWORD_RESEND_MESSAGE = "Send the password again when changing host, port, database or username";
