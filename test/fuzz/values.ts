// The values the API fuzz sends, as data (so fast-check can print and shrink them) and the one
// serializer that turns them into request bytes. A generated value is plain JSON, an object
// given as an entry list (so it can carry `__proto__` or a repeated key, which a JS object
// literal cannot), or a raw token written into the JSON text as is (`1e309`, `NaN`, `[[[`…).
import fc from "fast-check";

export type Gen = null | boolean | number | string | Gen[] | GenObject | RawJson | HugeString;
export interface GenObject {
  readonly $obj: readonly (readonly [string, Gen])[];
}
export interface RawJson {
  /** Written into the JSON text verbatim. */
  readonly $raw: string;
  /** Whether the text is valid JSON (`1e309` is; `NaN` is not). */
  readonly json: boolean;
}

/** A long string, kept as its length so a failure report stays readable. */
export interface HugeString {
  readonly $huge: number;
}

export const huge = (length: number): HugeString => ({ $huge: length, [fc.toStringMethod]: () => `"x"×${length}` }) as HugeString;
export const isHuge = (g: Gen): g is HugeString => typeof g === "object" && g !== null && "$huge" in g;
export const isObj = (g: Gen): g is GenObject => typeof g === "object" && g !== null && "$obj" in g;
export const isRaw = (g: Gen): g is RawJson => typeof g === "object" && g !== null && "$raw" in g;

/** Plain JSON (an example body) as a Gen. */
export function fromPlain(value: unknown): Gen {
  if (value === null || typeof value === "boolean" || typeof value === "number" || typeof value === "string") return value;
  if (Array.isArray(value)) return value.map(fromPlain);
  return { $obj: Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, fromPlain(v)] as const) };
}

/** The JSON text of a Gen. Written iteratively: a 100,000-deep value must not overflow the test's own stack. */
export function toJsonText(root: Gen): string {
  const out: string[] = [];
  const stack: (Gen | { close: string } | { sep: string })[] = [root];
  while (stack.length > 0) {
    const item = stack.pop()!;
    if (typeof item === "object" && item !== null && "close" in item) {
      out.push(item.close);
      continue;
    }
    if (typeof item === "object" && item !== null && "sep" in item) {
      out.push(item.sep);
      continue;
    }
    const g = item as Gen;
    if (isRaw(g)) out.push(g.$raw);
    else if (isHuge(g)) out.push(`"${"x".repeat(g.$huge)}"`);
    else if (Array.isArray(g)) {
      out.push("[");
      stack.push({ close: "]" });
      for (let i = g.length - 1; i >= 0; i--) {
        stack.push(g[i]!);
        if (i > 0) stack.push({ sep: "," });
      }
    } else if (isObj(g)) {
      out.push("{");
      stack.push({ close: "}" });
      for (let i = g.$obj.length - 1; i >= 0; i--) {
        const [key, value] = g.$obj[i]!;
        stack.push(value);
        stack.push({ sep: `${i > 0 ? "," : ""}${JSON.stringify(key)}:` });
      }
    } else out.push(JSON.stringify(g));
  }
  return out.join("");
}

/** What JSON type a value has, as a client would see it after parsing. */
export function jsonType(g: Gen): "null" | "boolean" | "number" | "string" | "array" | "object" | "raw" {
  if (g === null) return "null";
  if (isRaw(g)) return "raw";
  if (isHuge(g)) return "string";
  if (Array.isArray(g)) return "array";
  if (isObj(g)) return "object";
  return typeof g as "boolean" | "number" | "string";
}

// ---- Hostile strings: the ones the injection test puts in every field, and that the fuzz mixes in.

export const INJECTION_STRINGS = [
  // SQL
  "' OR '1'='1",
  "'; DROP TABLE users; --",
  '" OR ""="',
  "1; DELETE FROM dashboards WHERE 1=1",
  "x') UNION SELECT password_hash, email FROM users --",
  "%' AND 1=0 UNION SELECT sql FROM sqlite_master --",
  "\\'; SELECT 1; --",
  "?1 ?2 :name @p $1",
  // JSON
  '{"$gt":""}',
  '"},"isPublic":true,"x":{"',
  "\\u0000\\\"",
  "__proto__",
  '{"__proto__":{"admin":true}}',
  // Header / CRLF
  "value\r\nX-Injected: 1",
  "\r\n\r\n<html>",
  "%0d%0aX-Injected:%201",
  // Path traversal
  "../../../etc/passwd",
  "..\\..\\windows\\win.ini",
  "%2e%2e%2f%2e%2e%2fapi%2fusers",
  "/api/users/me",
  // Markup, format strings, unicode edge cases
  "<script>alert(1)</script>",
  "${7*7}{{7*7}}%s%n",
  "\u0000nul inside",
  "\u202eright-to-left override",
  "emoji 👩‍💻 and 𝕌𝕟𝕚𝕔𝕠𝕕𝕖",
  "zero\u200bwidth",
  "\ufeffbom-first",
  "ｆｕｌｌｗｉｄｔｈ",
];

/** Strings no field should ever accept whatever its rules (lone surrogates can't be UTF-8). */
export const LONE_SURROGATES = ["\ud800", "a\udfffb"];

// ---- Arbitraries for leaf values.

const edgeNumbers: Gen[] = [0, -0, -1, 1, 0.5, -0.5, 11, 12, 13, 47, 48, 49, 65535, 65536, 2 ** 31, 2 ** 31 - 1, 2 ** 53, -(2 ** 53), 1e308, -1e308, 5e-324, 604800, 604801, 1000000, 1000001];

/** Number spellings as raw JSON text: some valid JSON (out of range of a double), some not JSON at all. */
export const RAW_NUMBERS: RawJson[] = [
  { $raw: "1e309", json: true },
  { $raw: "-1e309", json: true },
  { $raw: "1e-400", json: true },
  { $raw: "9007199254740993", json: true },
  { $raw: "123456789012345678901234567890", json: true },
  { $raw: "1E2", json: true },
  { $raw: "-0.0", json: true },
  { $raw: "NaN", json: false },
  { $raw: "Infinity", json: false },
  { $raw: "-Infinity", json: false },
  { $raw: "+1", json: false },
  { $raw: "01", json: false },
  { $raw: ".5", json: false },
  { $raw: "1.", json: false },
  { $raw: "0x10", json: false },
  { $raw: "1e", json: false },
  { $raw: "1_000", json: false },
  { $raw: "undefined", json: false },
  { $raw: "'single'", json: false },
];

/** Long strings: over each field limit in the API, and towards the body limit (kept rare by the callers). */
export const hugeString: fc.Arbitrary<HugeString> = fc.constantFrom(201, 254, 513, 1025, 2001, 2049, 65537, 100_001, 300_000).map(huge);

export const hostileString: fc.Arbitrary<string | HugeString> = fc.oneof(
  { arbitrary: fc.constantFrom(...INJECTION_STRINGS, ...LONE_SURROGATES, "", " ", "\t\n", "null", "true", "0"), weight: 4 },
  { arbitrary: fc.string({ maxLength: 12 }), weight: 2 },
  { arbitrary: fc.string({ unit: "binary", maxLength: 24 }), weight: 2 },
  { arbitrary: fc.string({ unit: "grapheme", maxLength: 24 }), weight: 1 },
  { arbitrary: hugeString, weight: 1 },
);

export const hostileKey: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom("__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "", " ", "id", "organizationId", "createdAt", "role", "passwordHash", "query", "params", "cacheTtlSeconds"), weight: 4 },
  { arbitrary: fc.string({ maxLength: 10 }), weight: 2 },
  { arbitrary: fc.string({ unit: "binary", maxLength: 10 }), weight: 1 },
);

/** Nesting deep enough to overflow a recursive walker: `[[[…]]]` or `{"a":{"a":…}}`, as raw (valid) JSON. */
export const deepNesting: fc.Arbitrary<RawJson> = fc
  .tuple(fc.constantFrom(64, 200, 1_000, 5_000, 10_000, 100_000), fc.boolean())
  .map(
    ([depth, arrays]) =>
      ({
        $raw: arrays ? "[".repeat(depth) + "]".repeat(depth) : '{"a":'.repeat(depth) + "null" + "}".repeat(depth),
        json: true,
        [fc.toStringMethod]: () => `${arrays ? "[" : '{"a":'}×${depth}`,
      }) as RawJson,
  );

/** Any value, of any type, small by default. */
export const anyValue: fc.Arbitrary<Gen> = fc.letrec<{ value: Gen }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    { arbitrary: fc.constant(null), weight: 2 },
    { arbitrary: fc.boolean(), weight: 1 },
    { arbitrary: fc.constantFrom(...edgeNumbers), weight: 2 },
    { arbitrary: fc.integer(), weight: 1 },
    { arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }), weight: 1 },
    { arbitrary: fc.constantFrom(...RAW_NUMBERS), weight: 2 },
    { arbitrary: hostileString, weight: 5 },
    { arbitrary: fc.array(tie("value"), { maxLength: 3 }), weight: 1 },
    {
      arbitrary: fc.array(fc.tuple(hostileKey, tie("value")), { maxLength: 3 }).map((entries) => ({ $obj: entries })),
      weight: 1,
    },
    { arbitrary: deepNesting, weight: 1 },
  ),
})).value;

/** A value of a different JSON type than `g` (never null: null is its own case). */
export const otherTypeThan = (type: ReturnType<typeof jsonType>): fc.Arbitrary<Gen> => {
  const byType: Record<string, fc.Arbitrary<Gen>> = {
    boolean: fc.boolean(),
    number: fc.oneof(fc.constantFrom(...edgeNumbers), fc.integer()),
    string: hostileString,
    array: fc.array(fc.oneof(fc.constant(1), fc.constant("a"), fc.constant(null)), { maxLength: 2 }),
    object: fc.constantFrom<Gen>({ $obj: [] }, { $obj: [["a", 1]] }, { $obj: [["__proto__", { $obj: [["x", 1]] }]] }),
  };
  return fc.oneof(...Object.entries(byType).filter(([t]) => t !== type).map(([, arb]) => arb));
};
