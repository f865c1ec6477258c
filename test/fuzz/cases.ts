// What one generated request is made of, as printable data, and the arbitraries that make it:
// the caller's Authorization, the content type and transport, each path id, the query string
// and the body (mutations of the route's valid example, or raw bytes). Each part records
// whether it alone makes the request invalid (`mustFail`), so the oracle can name the status.
import fc from "fast-check";
import type { IdKind, QuerySpec, RouteSpec, World } from "./routes";
import {
  anyValue,
  deepNesting,
  fromPlain,
  hostileKey,
  hostileString,
  huge,
  isObj,
  jsonType,
  otherTypeThan,
  RAW_NUMBERS,
  type Gen,
  type GenObject,
} from "./values";

// ---- Authorization

export type AuthCase =
  | { kind: "valid" }
  | { kind: "none" }
  /** A header the API must refuse (401). */
  | { kind: "bad"; header: string }
  /** A token that is well-formed but not honoured: expired, wrong key, alg none, tampered, ended session. */
  | { kind: "forged"; which: ForgedToken }
  | { kind: "oversized"; length: number; shape: "jwt" | "plain" }
  /** The other tenant's viewer: authenticated, lowest role. */
  | { kind: "lowRole" }
  /** The caller's token under another spelling of the scheme (`bearer`, `BEARER`): case-insensitive per RFC 9110. */
  | { kind: "schemeCase"; scheme: string };

export type ForgedToken = "expired" | "otherSecret" | "algNone" | "tampered" | "endedSession" | "refreshTokenAsAccess";

export const authArb: fc.Arbitrary<AuthCase> = fc.oneof(
  { arbitrary: fc.constant({ kind: "valid" } as const), weight: 14 },
  { arbitrary: fc.constant({ kind: "none" } as const), weight: 1 },
  {
    arbitrary: fc
      .constantFrom("Bearer", "Bearer ", "Bearer abc", "Bearer a.b", "Bearer ..", "Basic dXNlcjpwYXNz", "Token abc.def.ghi", "Bearer a.b.c.d", "Bearer\tabc.def.ghi", "Bearer abc.def.ghi, Bearer abc.def.ghi", "null", "undefined", "Bearer %00.%00.%00")
      .map((header) => ({ kind: "bad", header }) as const),
    weight: 2,
  },
  {
    arbitrary: fc
      .constantFrom<ForgedToken>("expired", "otherSecret", "algNone", "tampered", "endedSession", "refreshTokenAsAccess")
      .map((which) => ({ kind: "forged", which }) as const),
    weight: 2,
  },
  {
    arbitrary: fc
      .record({ length: fc.constantFrom(4_096, 16_384, 65_536, 262_144), shape: fc.constantFrom("jwt" as const, "plain" as const) })
      .map((r) => ({ kind: "oversized", ...r }) as const),
    weight: 1,
  },
  { arbitrary: fc.constant({ kind: "lowRole" } as const), weight: 2 },
  { arbitrary: fc.constantFrom("bearer", "BEARER", "bEaReR").map((scheme) => ({ kind: "schemeCase", scheme }) as const), weight: 1 },
);

// ---- Content type and transport

/**
 * `json`: a JSON media type, `application/json` or `application/<x>+json` before any parameters
 * (the validator's rule, which the Content-Type gate shares); `notJson`: anything else, or none.
 */
export type ContentTypeClass = "json" | "notJson";
export interface ContentTypeCase {
  value: string | null;
  cls: ContentTypeClass;
}

const CONTENT_TYPES: ContentTypeCase[] = [
  ...[
    "application/json; charset=utf-8",
    "application/json;charset=UTF-8",
    "Application/JSON",
    "APPLICATION/JSON; CHARSET=UTF-8",
    "application/vnd.api+json",
    "application/merge-patch+json",
    "application/problem+json; charset=utf-8",
    "application/json ; charset=utf-8",
    " application/json",
    "application/json;",
    "application/json;;",
    "application/x_y+json",
    "application/json; charset=latin1",
  ].map((value) => ({ value, cls: "json" as const })),
  ...[
    null,
    "",
    "text/plain",
    "text/plain;charset=UTF-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/xml",
    "text/json",
    "application/jsonx",
    "json",
    "application/json, text/plain",
    "application/ json",
    "*/*",
    "application/octet-stream",
    "application/json-seq",
    "text/html; a=application/json",
    "application/+json",
    "application/a+b+json",
  ].map((value) => ({ value, cls: "notJson" as const })),
];

export const contentTypeArb: fc.Arbitrary<ContentTypeCase> = fc.oneof(
  { arbitrary: fc.constant({ value: "application/json", cls: "json" } as ContentTypeCase), weight: 12 },
  { arbitrary: fc.constantFrom(...CONTENT_TYPES), weight: 4 },
);

/** Buffered bodies carry Content-Length; streamed ones arrive chunked (no length), as from a proxy. */
export const transportArb = fc.oneof({ arbitrary: fc.constant("buffered" as const), weight: 9 }, { arbitrary: fc.constant("chunked" as const), weight: 1 });

// ---- Path ids

export type IdCase =
  | { kind: "own" }
  | { kind: "foreign" }
  | { kind: "otherKind"; pick: number }
  | { kind: "uppercase" }
  | { kind: "random"; uuid: string }
  | { kind: "fixed"; uuid: string }
  /** The admin's own user id (users routes) or the built-in sample source (data-source routes): real ids too. */
  | { kind: "special" }
  /** Not a UUID at all. `raw` text goes into the URL as is (already percent-encoded); otherwise it is encoded. */
  | { kind: "malformed"; text: string; raw: boolean };

const MALFORMED_RAW = [
  "..%2F..%2Fusers",
  "%2e%2e%2fapi%2fusers",
  "..%5C..%5Cusers",
  "%252e%252e%252f",
  "%ZZ",
  "%E0%A4%A",
  "%00",
  "%0D%0AX-Injected:%201",
  "%C0%AF",
  "%FF%FE",
  "00000000-0000-4000-8000-000000000000%00",
  "%7B%7D",
  ";",
  "@",
  "~",
  "*",
];

export const idArb = (hasSpecial: boolean): fc.Arbitrary<IdCase> =>
  fc.oneof(
    { arbitrary: fc.constant({ kind: "own" } as const), weight: 16 },
    { arbitrary: fc.constant({ kind: "foreign" } as const), weight: 2 },
    { arbitrary: fc.nat(20).map((pick) => ({ kind: "otherKind", pick }) as const), weight: 1 },
    { arbitrary: fc.constant({ kind: "uppercase" } as const), weight: 1 },
    { arbitrary: fc.uuid({ version: 4 }).map((uuid) => ({ kind: "random", uuid }) as const), weight: 1 },
    {
      arbitrary: fc
        .constantFrom("00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff", "00000000-0000-4000-8000-000000000000")
        .map((uuid) => ({ kind: "fixed", uuid }) as const),
      weight: 1,
    },
    { arbitrary: fc.constant<IdCase>(hasSpecial ? { kind: "special" } : { kind: "own" }), weight: 1 },
    {
      arbitrary: fc.oneof(
        fc.constantFrom(...MALFORMED_RAW).map((text) => ({ kind: "malformed", text, raw: true }) as const),
        fc
          .oneof(
            fc.constantFrom("not-a-uuid", "1", "0", "-1", "null", "undefined", "true", "' OR 1=1 --", "{00000000-0000-4000-8000-000000000000}", "00000000000040008000000000000000", "urn:uuid:00000000-0000-4000-8000-000000000000", " 00000000-0000-4000-8000-000000000000", "00000000-0000-4000-8000-000000000000 ", "é", "x".repeat(10_000), "../users"),
            fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !isUuidish(s)),
          )
          .map((text) => ({ kind: "malformed", text, raw: false }) as const),
      ),
      weight: 3,
    },
  );

// `.` and `..` alone are dot segments: the client's URL parser resolves them before sending.
const isUuidish = (s: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s.trim()) || s === "." || s === "..";

// ---- Query strings

export interface QueryPart {
  /** `key=value` text exactly as it goes into the URL (already encoded). */
  text: string;
  /** Alone makes the request a 400. */
  mustFail: boolean;
}
export interface QueryCase {
  parts: readonly QueryPart[];
  /** A known key given twice arrives as a list, which no parameter takes (400). */
  repeated?: boolean;
}

const enc = (s: string) => encodeURIComponent(s);
/** Lone surrogates cannot be percent-encoded (encodeURIComponent throws); send U+FFFD instead. */
const wellFormed = (s: string) => s.replace(/[\ud800-\udfff]/g, (ch, i: number, all: string) => {
  const code = ch.charCodeAt(0);
  const next = all.charCodeAt(i + 1);
  const prev = all.charCodeAt(i - 1);
  if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) return ch;
  if (code >= 0xdc00 && prev >= 0xd800 && prev <= 0xdbff) return ch;
  return "\ufffd";
});

const intVariants = (max: number) =>
  fc.oneof(
    { arbitrary: fc.constantFrom("1", "2", "3", String(max)).map((v) => ({ v, fail: false })), weight: 3 },
    // Spellings a Number() coercion takes: the API may take them.
    { arbitrary: fc.constantFrom(" 2", "2.0", "1e1", "0x2", "+3", "002", "2 ").map((v) => ({ v, fail: false })), weight: 1 },
    {
      arbitrary: fc
        .constantFrom("", "0", "-1", "-0", "1.5", "abc", "NaN", "Infinity", "-Infinity", "1e400", String(max + 1), "9007199254740993", "１", " ", "true", "[1]", "1,2", "٣")
        .map((v) => ({ v, fail: true })),
      weight: 3,
    },
  );

const stringPart = (key: string, values: fc.Arbitrary<{ v: string; fail: boolean }>) =>
  values.map(({ v, fail }) => ({ text: `${enc(key)}=${enc(wellFormed(v))}`, mustFail: fail }));

function knownParts(spec: QuerySpec): fc.Arbitrary<QueryPart>[] {
  const parts: fc.Arbitrary<QueryPart>[] = [];
  if (spec.paginated) {
    parts.push(stringPart("page", intVariants(1_000_000)), stringPart("limit", intVariants(100)));
  }
  if (spec.sort) {
    const valid = spec.sort.flatMap((f) => [f, `-${f}`]);
    parts.push(
      stringPart(
        "sort",
        fc.oneof(
          { arbitrary: fc.constantFrom(...valid).map((v) => ({ v, fail: false })), weight: 3 },
          {
            arbitrary: fc
              .oneof(fc.constantFrom("", "-", "--name", "name,-createdAt", "NAME", "password_hash", "passwordHash", "+name", "name desc", "organizationId", "id", "created_at"), hostileString.filter((s): s is string => typeof s === "string"))
              .filter((v) => !valid.includes(v))
              .map((v) => ({ v, fail: true })),
            weight: 2,
          },
        ),
      ),
    );
  }
  for (const key of spec.booleans ?? []) {
    parts.push(
      stringPart(
        key,
        fc.oneof(
          { arbitrary: fc.constantFrom("true", "false").map((v) => ({ v, fail: false })), weight: 3 },
          { arbitrary: fc.constantFrom("1", "0", "yes", "TRUE", "True", "", "on", "null", "true ", " false").map((v) => ({ v, fail: true })), weight: 2 },
        ),
      ),
    );
  }
  for (const [key, values] of Object.entries(spec.enums ?? {})) {
    parts.push(
      stringPart(
        key,
        fc.oneof(
          { arbitrary: fc.constantFrom(...values).map((v) => ({ v, fail: false })), weight: 3 },
          {
            arbitrary: fc
              .oneof(fc.constantFrom("", "ADMIN", "Admin", "sqlite", "*", "all"), hostileString.filter((s): s is string => typeof s === "string"))
              .filter((v) => !values.includes(v))
              .map((v) => ({ v, fail: true })),
            weight: 2,
          },
        ),
      ),
    );
  }
  for (const key of spec.search ?? []) {
    parts.push(
      stringPart(
        key,
        fc.oneof(
          fc.constantFrom("Fuzz", "fuzz", "", "   ", "%", "_", "\\", "'", "x".repeat(200), "x".repeat(201), " ".repeat(300) + "x").map((v) => ({ v, fail: v.trim().length > 200 })),
          // Every length up to the limit and past it (a store may have limits of its own, e.g. LIKE's 50 bytes).
          fc.string({ unit: "grapheme", minLength: 30, maxLength: 210 }).map((v) => ({ v, fail: wellFormed(v).trim().length > 200 })),
          hostileString.map((s) => {
            const v = typeof s === "string" ? s : "x".repeat(s.$huge);
            return { v, fail: wellFormed(v).trim().length > 200 };
          }),
        ),
      ),
    );
  }
  return parts;
}

/** Parts no route reads: unknown keys, prototype keys, broken encodings. Never a reason to refuse. */
const noiseParts: fc.Arbitrary<QueryPart> = fc.oneof(
  fc
    .constantFrom("%ZZ", "&&", "=", "==x", "a=%E0%A4%A", "%00=%00", "x[]=1&x[]=2", "x[a]=1", ";", "__proto__=1", "__proto__[admin]=true", "constructor=1", "constructor[prototype][admin]=1", "toString=1", "hasOwnProperty=x", "%5F%5Fproto%5F%5F=1", "Page=0", "LIMIT=-1", "a=%0D%0AX-Injected:%201", "organizationId=x", "+=+", "%3D=%26")
    .map((text) => ({ text, mustFail: false })),
  fc.tuple(hostileKey, hostileString).map(([k, v]) => ({
    text: `${enc(`zz${wellFormed(k)}`)}=${enc(wellFormed(typeof v === "string" ? v : "x".repeat(Math.min(v.$huge, 2_000))))}`,
    mustFail: false,
  })),
);

export const queryArb = (route: RouteSpec): fc.Arbitrary<QueryCase> => {
  const spec = route.query;
  const example = Object.entries(route.exampleQuery ?? {}).map(([k, v]) => ({ text: `${enc(k)}=${enc(v)}`, mustFail: false }));
  if (!spec) {
    return fc.oneof(
      { arbitrary: fc.constant({ parts: [] }), weight: 4 },
      { arbitrary: fc.array(noiseParts, { minLength: 1, maxLength: 3 }).map((parts) => ({ parts })), weight: 1 },
    );
  }
  const known = knownParts(spec);
  const mutated = fc
    .tuple(
      fc.array(fc.oneof(...known), { minLength: 1, maxLength: 4 }),
      fc.array(noiseParts, { maxLength: 2 }),
      fc.boolean(),
    )
    .map(([ks, noise, withExample]) => {
      const keys = new Map<string, number>();
      for (const p of ks) keys.set(p.text.split("=")[0]!, (keys.get(p.text.split("=")[0]!) ?? 0) + 1);
      const base = withExample ? example.filter((p) => !keys.has(p.text.split("=")[0]!)) : [];
      return { parts: [...base, ...ks, ...noise], repeated: [...keys.values()].some((n) => n > 1) };
    });
  return fc.oneof(
    { arbitrary: fc.constant({ parts: example }), weight: 4 },
    { arbitrary: fc.constant({ parts: [] }), weight: 1 },
    { arbitrary: mutated, weight: 6 },
  );
};

export const queryMustFail = (q: QueryCase) => q.repeated === true || q.parts.some((p) => p.mustFail);
export const queryString = (q: QueryCase) => {
  const text = q.parts.map((p) => p.text).filter((t) => t !== "").join("&");
  return text ? `?${text}` : "";
};

// ---- Bodies

type Step = string | number;
export type Op =
  | { op: "drop"; path: Step[] }
  | { op: "set"; path: Step[]; value: Gen; why: "otherType" | "null" | "any" | "rawNumber" | "wrap" }
  | { op: "extra"; path: Step[]; key: string; value: Gen }
  | { op: "root"; value: Gen }
  /** A reference field (`dataSourceId`) set to a real id: the caller's, the built-in sample, another tenant's, another kind's, or none. */
  | { op: "setId"; path: Step[]; which: IdChoice };

export type IdChoice = "own" | "sample" | "foreign" | "otherKind" | "random";
/** Turns an id choice into the id (the live world's pools are only known at send time). */
export type IdResolver = (which: IdChoice, kind: IdKind) => string;

export type BodyCase =
  | { kind: "none" }
  | { kind: "example"; ops: readonly Op[] }
  /** A whole body made from the live example's text (RAW_BODIES[name]). */
  | { kind: "raw"; name: string; cut: number }
  /** Random bytes (given as numbers so they print): never a valid body. */
  | { kind: "bytes"; bytes: readonly number[] }
  /** Something sent to a route that reads no JSON: only its Content-Type is judged. */
  | { kind: "ignored"; text: string };

interface PathInfo {
  path: Step[];
  dotted: string;
  type: ReturnType<typeof jsonType>;
  /** Inside a free-form subtree (layout, config): no type is wrong there. */
  free: boolean;
  /** The path is a free-form root itself (it must still be an object). */
  freeRoot: boolean;
  nullable: boolean;
  /** An object whose keys the schema fixes (unknown keys are a 400). */
  strictObject: boolean;
  keys: string[];
}

const dottedOf = (path: Step[]) => path.join(".");

export function pathsOf(route: RouteSpec, example: Gen): PathInfo[] {
  const free = route.free ?? [];
  const nullable = route.nullable ?? [];
  const out: PathInfo[] = [];
  const walk = (g: Gen, path: Step[]) => {
    const dotted = dottedOf(path);
    const inFree = free.some((f) => dotted.startsWith(`${f}.`));
    out.push({
      path,
      dotted,
      type: jsonType(g),
      free: inFree,
      freeRoot: free.includes(dotted),
      nullable: nullable.includes(dotted),
      strictObject: isObj(g) && !inFree && !free.includes(dotted),
      keys: isObj(g) ? g.$obj.map(([k]) => k) : [],
    });
    if (Array.isArray(g)) g.forEach((child, i) => walk(child, [...path, i]));
    else if (isObj(g)) for (const [k, child] of g.$obj) walk(child, [...path, k]);
  };
  walk(example, []);
  return out;
}

/** Body ops for a route, from its example's shape (the values are read at run time from the live world). */
export function bodyOpArb(paths: PathInfo[], idFields: Readonly<Record<string, IdKind>> = {}): fc.Arbitrary<Op> {
  const leaves = paths.filter((p) => p.path.length > 0);
  const objects = paths.filter((p) => p.type === "object");
  const arbs: fc.Arbitrary<Op>[] = [
    fc.constantFrom(...leaves).map((p) => ({ op: "drop", path: p.path }) as const),
    fc.constantFrom(...leaves).chain((p) => otherTypeThan(p.type).map((value) => ({ op: "set", path: p.path, value, why: "otherType" }) as const)),
    fc.constantFrom(...leaves).map((p) => ({ op: "set", path: p.path, value: null, why: "null" }) as const),
    fc.constantFrom(...leaves).chain((p) => anyValue.map((value) => ({ op: "set", path: p.path, value, why: "any" }) as const)),
    fc.constantFrom(...leaves).chain((p) => fc.constantFrom(...RAW_NUMBERS).map((value) => ({ op: "set", path: p.path, value, why: "rawNumber" }) as const)),
    fc.constantFrom(...leaves).map((p) => ({ op: "set", path: p.path, value: { $wrap: true } as never, why: "wrap" }) as const),
    fc.constantFrom(...objects).chain((p) =>
      fc.tuple(hostileKey, anyValue).map(([key, value]) => ({ op: "extra", path: p.path, key, value }) as const),
    ),
    fc
      .oneof(
        fc.constantFrom<Gen>(null, true, 0, "", [], { $obj: [] }, "body", [{ $obj: [] }]),
        deepNesting,
        fc.constantFrom(...RAW_NUMBERS),
      )
      .map((value) => ({ op: "root", value }) as const),
  ];
  return fc.oneof(
    { arbitrary: arbs[0]!, weight: 3 },
    { arbitrary: arbs[1]!, weight: 4 },
    { arbitrary: arbs[2]!, weight: 2 },
    { arbitrary: arbs[3]!, weight: 5 },
    { arbitrary: arbs[4]!, weight: 2 },
    { arbitrary: arbs[5]!, weight: 1 },
    { arbitrary: arbs[6]!, weight: 4 },
    { arbitrary: arbs[7]!, weight: 1 },
    ...Object.keys(idFields).map((dotted) => ({
      arbitrary: fc.constantFrom<IdChoice>("own", "sample", "sample", "foreign", "otherKind", "random").map((which) => ({ op: "setId", path: dotted.split("."), which }) as const),
      weight: 4,
    })),
  );
}

/**
 * Whole bodies that are not a JSON rendering of a value: broken JSON, other encodings, bad bytes.
 * Each is made at send time from the live example's text (a rotated refresh token, say), so a
 * case never replays a stale value.
 */
export const RAW_BODIES: Record<string, { make: (example: string, cut: number) => string | Uint8Array; mustFail: boolean | "unknown" }> = {
  truncated: { make: (t, cut) => t.slice(0, cut % Math.max(1, t.length - 1)), mustFail: true },
  "trailing comma": { make: (t) => t.replace(/}$/, ",}"), mustFail: true },
  "single quotes": { make: (t) => t.replace(/"/g, "'"), mustFail: true },
  comment: { make: (t) => `/* c */${t}`, mustFail: true },
  "two documents": { make: (t) => `${t}${t}`, mustFail: true },
  "garbage after": { make: (t) => `${t}x`, mustFail: true },
  empty: { make: () => "", mustFail: true },
  "whitespace only": { make: () => " \n\t ", mustFail: true },
  "NaN root": { make: () => "NaN", mustFail: true },
  "whitespace around": { make: (t) => ` \r\n\t${t}\n `, mustFail: false },
  "byte-order mark": { make: (t) => `\ufeff${t}`, mustFail: "unknown" },
  "escaped keys": {
    make: (t) => t.replace(/"([a-zA-Z]+)":/g, (_m, k: string) => `"${[...k].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`).join("")}":`),
    mustFail: false,
  },
  "deep root array": { make: () => "[".repeat(100_000) + "]".repeat(100_000), mustFail: true },
  "deep root object": { make: () => '{"a":'.repeat(50_000) + "1" + "}".repeat(50_000), mustFail: true },
  "unterminated deep": { make: () => "[".repeat(200_000), mustFail: true },
  // Not UTF-8: a lone continuation byte, a truncated sequence, an overlong "/", an encoded surrogate; and UTF-16.
  "invalid UTF-8 in a string": { make: (t) => injectBytes(t, [0xff, 0xfe]), mustFail: true },
  "truncated UTF-8 sequence": { make: (t) => injectBytes(t, [0xe2, 0x82]), mustFail: true },
  "overlong UTF-8": { make: (t) => injectBytes(t, [0xc0, 0xaf]), mustFail: true },
  "UTF-8 surrogate": { make: (t) => injectBytes(t, [0xed, 0xa0, 0x80]), mustFail: true },
  "UTF-16LE": { make: (t) => utf16le(t), mustFail: true },
  "NUL bytes": { make: () => new Uint8Array(4), mustFail: true },
};

const rawBodyArb: fc.Arbitrary<BodyCase> = fc.oneof(
  { arbitrary: fc.record({ name: fc.constantFrom(...Object.keys(RAW_BODIES)), cut: fc.nat() }).map((r) => ({ kind: "raw", ...r }) as const), weight: 6 },
  { arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => ({ kind: "bytes", bytes: [...bytes] }) as const), weight: 1 },
);

/** The example's text with `bytes` put inside its first string value. */
function injectBytes(text: string, bytes: number[]): Uint8Array {
  const encoded = [...new TextEncoder().encode(text)];
  const at = encoded.indexOf(0x22, encoded.indexOf(0x3a)) + 1; // after the first value's opening quote
  return Uint8Array.from([...encoded.slice(0, at), ...bytes, ...encoded.slice(at)]);
}

function utf16le(text: string): Uint8Array {
  const out = new Uint8Array(text.length * 2);
  for (let i = 0; i < text.length; i++) {
    out[i * 2] = text.charCodeAt(i) & 0xff;
    out[i * 2 + 1] = text.charCodeAt(i) >> 8;
  }
  return out;
}

/** A body just over the limit (413), or the example padded with a huge but valid field. */
const oversizedArb = (maxBytes: number): fc.Arbitrary<BodyCase> =>
  fc.constantFrom(
    { kind: "example", ops: [{ op: "extra", path: [], key: "padding", value: huge(maxBytes + 1) }] } as BodyCase,
    { kind: "ignored", text: " ".repeat(maxBytes + 1) + "{}" } as BodyCase,
    { kind: "example", ops: [{ op: "extra", path: [], key: "padding", value: huge(maxBytes - 4_096) }] } as BodyCase,
  );

export function bodyArb(route: RouteSpec, example: Gen, maxBytes: number): fc.Arbitrary<BodyCase> {
  if (!route.body) {
    // No JSON is read; a body may still come, and only its Content-Type is judged.
    return fc.oneof(
      { arbitrary: fc.constant({ kind: "none" } as const), weight: 6 },
      { arbitrary: fc.constantFrom<BodyCase>({ kind: "ignored", text: '{"a":1}' }, { kind: "ignored", text: "hello" }, { kind: "ignored", text: "\u00ff" }), weight: 1 },
    );
  }
  const paths = pathsOf(route, example);
  return fc.oneof(
    { arbitrary: fc.constant({ kind: "example", ops: [] } as const), weight: 10 },
    { arbitrary: fc.array(bodyOpArb(paths, route.idFields), { minLength: 1, maxLength: 3 }).map((ops) => ({ kind: "example", ops }) as const), weight: 30 },
    { arbitrary: rawBodyArb, weight: 8 },
    { arbitrary: oversizedArb(maxBytes), weight: 1 },
    { arbitrary: fc.constant({ kind: "none" } as const), weight: 1 },
  );
}

// ---- Applying ops to the live example, and what they imply

// Objects may hold a key twice (an `extra` op with a known key): JSON.parse keeps the last, so
// reads and updates go to the last entry, and a drop removes every entry of the key.
function getAt(g: Gen, path: readonly Step[]): Gen | undefined {
  let cur: Gen | undefined = g;
  for (const step of path) {
    if (Array.isArray(cur) && typeof step === "number") cur = cur[step];
    else if (cur !== undefined && isObj(cur)) cur = cur.$obj.findLast(([k]) => k === step)?.[1];
    else return undefined;
  }
  return cur;
}

function updateAt(g: Gen, path: readonly Step[], fn: (current: Gen) => Gen | undefined): Gen {
  if (path.length === 0) return fn(g) ?? null;
  const [head, ...rest] = path;
  if (Array.isArray(g) && typeof head === "number" && head < g.length) {
    if (rest.length > 0) return g.map((v, i) => (i === head ? updateAt(v, rest, fn) : v));
    const value = fn(g[head]!);
    return value === undefined ? g.filter((_, i) => i !== head) : g.map((v, i) => (i === head ? value : v));
  }
  if (isObj(g)) {
    const entries = g.$obj;
    const index = entries.findLastIndex(([k]) => k === head);
    if (index < 0) return g;
    if (rest.length > 0) return { $obj: entries.map((e, i) => (i === index ? ([e[0], updateAt(e[1], rest, fn)] as const) : e)) };
    const value = fn(entries[index]![1]);
    return { $obj: value === undefined ? entries.filter(([k]) => k !== head) : entries.map((e, i) => (i === index ? ([e[0], value] as const) : e)) };
  }
  return g;
}

export interface AppliedBody {
  value: Gen;
  /** The ops alone make the body invalid, whatever else is sent. */
  mustFail: boolean;
  /** Some op may or may not make it invalid. */
  mutated: boolean;
}

const startsWith = (path: readonly Step[], prefix: readonly Step[]) => prefix.every((step, i) => path[i] === step);

/**
 * Applies ops in order to the live example and works out what the result implies: each op that
 * breaks the body leaves a fault at its path, and a later op over that path (a set, a drop, a
 * whole new body) takes the fault away with the value.
 */
export function applyOps(route: RouteSpec, example: Gen, ops: readonly Op[], resolveId?: IdResolver): AppliedBody {
  const paths = new Map(pathsOf(route, example).map((p) => [p.dotted, p]));
  let value = example;
  let faults: Step[][] = [];
  let mutated = false;
  const clear = (path: readonly Step[]) => {
    faults = faults.filter((f) => !startsWith(f, path));
  };
  for (const op of ops) {
    // A real reference (the caller's own source, the sample) keeps the body valid; any other op may not.
    if (op.op !== "setId" || (op.which !== "own" && op.which !== "sample")) mutated = true;
    if (op.op === "root") {
      value = op.value;
      // No route takes anything but an object (and `{}` misses required fields or is an empty patch).
      faults = [[]];
      continue;
    }
    const info = paths.get(dottedOf(op.path));
    if (op.op === "setId") {
      const kind = route.idFields?.[dottedOf(op.path)];
      if (!kind || !resolveId || getAt(value, op.path) === undefined) continue;
      value = updateAt(value, op.path, () => resolveId(op.which, kind));
      clear(op.path);
      continue;
    }
    if (op.op === "drop") {
      if (getAt(value, op.path) === undefined) continue;
      value = updateAt(value, op.path, () => undefined);
      clear(op.path);
      const last = op.path[op.path.length - 1];
      if (typeof last === "number") {
        // Later elements of the array move down by one, their faults with them.
        const parent = op.path.slice(0, -1);
        faults = faults.map((f) => (startsWith(f, parent) && typeof f[parent.length] === "number" && (f[parent.length] as number) > last ? [...parent, (f[parent.length] as number) - 1, ...f.slice(parent.length + 1)] : f));
      }
    } else if (op.op === "set") {
      const current = getAt(value, op.path);
      if (current === undefined) continue;
      const next: Gen = op.why === "wrap" ? (jsonType(current) === "array" ? { $obj: [["value", current] as const] } : [current]) : op.value;
      value = updateAt(value, op.path, () => next);
      clear(op.path);
      if (breaks(info, next)) faults.push([...op.path]);
    } else if (op.op === "extra") {
      const target = getAt(value, op.path);
      if (target === undefined || !isObj(target)) continue;
      const known = target.$obj.some(([k]) => k === op.key);
      value = updateAt(value, op.path, (obj) => ({ $obj: [...(obj as GenObject).$obj, [op.key, op.value] as const] }));
      const at = [...op.path, op.key];
      clear(at);
      // A key the object already has is a repeat: the new value replaces the old (JSON.parse keeps the last).
      if (known ? breaks(paths.get(dottedOf(at)), op.value) : (info?.strictObject ?? false) || hasInvalidJson(op.value)) faults.push(at);
    }
  }
  return { value, mustFail: faults.length > 0, mutated };
}

/** Does putting `next` where `info` describes surely make the body invalid? */
function breaks(info: PathInfo | undefined, next: Gen): boolean {
  if (hasInvalidJson(next)) return true;
  if (!info || info.free) return false;
  const nextType = jsonType(next);
  if (nextType === "raw") {
    // Valid JSON text here is a number: a non-number field refuses it, and so does a number
    // field when no double holds it (1e309 parses as Infinity).
    const raw = (next as { $raw: string }).$raw;
    return info.type !== "number" || raw === "1e309" || raw === "-1e309";
  }
  if (nextType === "null") return !info.nullable;
  return nextType !== info.type;
}

function hasInvalidJson(g: Gen): boolean {
  const stack: Gen[] = [g];
  while (stack.length) {
    const v = stack.pop()!;
    if (typeof v === "object" && v !== null && "$raw" in v && !v.json) return true;
    if (Array.isArray(v)) stack.push(...v);
    else if (isObj(v)) for (const [, c] of v.$obj) stack.push(c);
  }
  return false;
}

/** The example of a route for the live world, as a Gen. */
export const exampleOf = (route: RouteSpec, world: World): Gen => fromPlain(route.body!(world));

// ---- Extra headers a hostile client sends

export const extraHeadersArb: fc.Arbitrary<Record<string, string>> = fc.oneof(
  { arbitrary: fc.constant({}), weight: 8 },
  {
    arbitrary: fc.dictionary(
      fc.constantFrom("cf-connecting-ip", "x-forwarded-for", "origin", "x-http-method-override", "cookie", "accept", "accept-encoding", "x-request-id", "cf-ray", "host-override", "if-none-match", "range"),
      fc.oneof(
        fc.constantFrom("127.0.0.1", "::1", "fe80::1%eth0", "::ffff:10.0.0.1", "999.999.999.999", "1.2.3.4, 5.6.7.8", "DELETE", "PUT", "null", "https://evil.example", "bytes=0-1", "*", "x".repeat(8_192), "", "gzip, br"),
        fc.string({ maxLength: 30 }).map((s) => s.replace(/[^\x20-\x7e]/g, "")),
      ),
      { minKeys: 1, maxKeys: 3 },
    ),
    weight: 1,
  },
);

export interface FuzzCase {
  auth: AuthCase;
  contentType: ContentTypeCase;
  transport: "buffered" | "chunked";
  ids: Record<string, IdCase>;
  query: QueryCase;
  body: BodyCase;
  headers: Record<string, string>;
}

export function caseArb(route: RouteSpec, example: Gen | undefined, maxBytes: number): fc.Arbitrary<FuzzCase> {
  const ids: Record<string, fc.Arbitrary<IdCase>> = {};
  for (const [name, kind] of Object.entries(route.params)) ids[name] = idArb(kind === "user" || kind === "dataSource");
  return fc.record({
    auth: authArb,
    contentType: contentTypeArb,
    transport: transportArb,
    ids: fc.record(ids),
    query: queryArb(route),
    body: route.method === "GET" ? fc.constant({ kind: "none" } as const) : bodyArb(route, example ?? { $obj: [] }, maxBytes),
    headers: extraHeadersArb,
  });
}
