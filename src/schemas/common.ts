import { z } from "zod";
import { findInJson } from "../lib/json-walk";

export const uuid = z.string().uuid();
export const idParam = z.object({ id: uuid });

/** Trimmed, lower-cased email: the stored form, so uniqueness is case-insensitive. */
export const email = z.string().trim().toLowerCase().max(254).pipe(z.email({ message: "Invalid email address" }));
export const newPassword = z
  .string()
  .min(8, { message: "Password must be at least 8 characters" })
  .max(128, { message: "Password must be at most 128 characters" });
export const personName = z.string().trim().min(1, { message: "Required" }).max(100);

/**
 * Why a value inside free-form JSON would not be stored as sent: a number JSON cannot hold
 * (`1e309` parses as Infinity, written back as null), or a `__proto__` key (copying it into an
 * object sets the prototype instead, and the key is lost).
 */
const unstorable = (value: unknown, key: string | number | undefined) =>
  key === "__proto__" ? 'The key "__proto__" is not allowed' : typeof value === "number" && !Number.isFinite(value) ? "Numbers must be finite" : null;

/** A JSON object, stored exactly as sent, whose serialized form is at most `maxBytes` (config, layout). */
export const jsonObject = (maxBytes: number) =>
  z
    .unknown()
    // On the parsed body as sent: the record below would already have lost a `__proto__` key.
    .superRefine((value, ctx) => {
      const problem = findInJson(value, unstorable);
      if (problem) ctx.addIssue({ code: "custom", path: problem.path, message: problem.message });
    })
    .pipe(z.record(z.string(), z.unknown()))
    .refine((value) => new TextEncoder().encode(JSON.stringify(value)).length <= maxBytes, {
      message: `Must serialize to at most ${maxBytes / 1024} KiB of JSON`,
    });

/** `sort` values: a field name with an optional `-` for descending. */
export const sortParam = <const F extends readonly [string, ...string[]]>(fields: F, fallback: string) =>
  z
    .enum([...fields, ...fields.map((f) => `-${f}`)] as [string, ...string[]])
    .default(fallback)
    .transform((value) => ({
      field: value.replace(/^-/, "") as F[number],
      direction: value.startsWith("-") ? ("desc" as const) : ("asc" as const),
    }))
    .describe("Sort field; a leading - sorts descending");

/** `true` / `false` in a query string. */
export const booleanQuery = z.enum(["true", "false"]).transform((v) => v === "true");

/** `q`: a case-insensitive substring of the name; empty means no filter. */
export const searchQuery = z
  .string()
  .trim()
  .max(200)
  .transform((v) => (v === "" ? undefined : v))
  .optional()
  .describe("Case-insensitive substring of the name");

/** A display name: 1–200 characters after trimming. */
export const displayName = z
  .string()
  .trim()
  .min(1, { message: "Must not be empty" })
  .max(200, { message: "Must be at most 200 characters" });

/** Object-level check for PATCH bodies: an empty patch is a mistake, not a no-op. */
export const nonEmptyPatch = <T extends Record<string, unknown>>(value: T) =>
  Object.values(value).some((v) => v !== undefined);
export const NON_EMPTY_PATCH = { message: "At least one field must be given", path: [] as string[] };

// ---- Response building blocks

/** Every timestamp the API returns: ISO 8601 UTC with milliseconds (`Date#toISOString`). */
export const timestamp = z.iso.datetime().describe("ISO 8601 UTC, e.g. 2024-01-02T10:00:00.000Z");

/** A JSON object the client owns (dashboard layout, widget config), returned as stored. */
export const clientObject = z.record(z.string(), z.unknown());
