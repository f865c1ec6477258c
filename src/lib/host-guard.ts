// The guard every user-supplied destination passes (webhook URLs, data-source hosts), so a
// tenant cannot make the Worker talk to loopback, private, link-local, CGNAT, metadata or other
// non-public addresses. Names are canonicalized with the WHATWG URL parser first, which also
// turns every IPv4 spelling (decimal `2130706433`, octal `0177.0.0.1`, hex `0x7f.1`, short
// `127.1`) into dotted-quad form, so one classifier sees one spelling.
//
// Hostnames are not resolved here (Workers has no DNS API); fetch() and connect() from a Worker
// only reach public addresses in production, so a public name that resolves privately fails there.

export type GuardResult = { ok: true; host: string } | { ok: false; reason: string };

export interface GuardOptions {
  /** Development only: permit loopback/private targets (and http for URLs). */
  allowPrivate: boolean;
}

const BLOCKED_NAME_SUFFIXES = [".localhost", ".local", ".internal", ".localdomain", ".home.arpa"];
const BLOCKED_NAMES = new Set(["localhost", "localhost.localdomain", "metadata", "metadata.google.internal"]);

type Cidr = [prefix: number[], bits: number, label: string];

// IPv4 ranges that are not the public internet (RFC 6890 and friends).
const IPV4_BLOCKED: Cidr[] = [
  [[0, 0, 0, 0], 8, "this-network"],
  [[10, 0, 0, 0], 8, "private"],
  [[100, 64, 0, 0], 10, "carrier-grade NAT"],
  [[127, 0, 0, 0], 8, "loopback"],
  [[169, 254, 0, 0], 16, "link-local / metadata"],
  [[172, 16, 0, 0], 12, "private"],
  [[192, 0, 0, 0], 24, "IETF protocol assignments"],
  [[192, 0, 2, 0], 24, "documentation"],
  [[192, 88, 99, 0], 24, "6to4 relay"],
  [[192, 168, 0, 0], 16, "private"],
  [[198, 18, 0, 0], 15, "benchmarking"],
  [[198, 51, 100, 0], 24, "documentation"],
  [[203, 0, 113, 0], 24, "documentation"],
  [[224, 0, 0, 0], 4, "multicast"],
  [[240, 0, 0, 0], 4, "reserved"],
];

// IPv6 ranges as 16-bit groups.
const IPV6_BLOCKED: Cidr[] = [
  [[0, 0, 0, 0, 0, 0, 0, 0], 128, "unspecified"],
  [[0, 0, 0, 0, 0, 0, 0, 1], 128, "loopback"],
  // After the IPv4-carrying forms above: nothing else in ::/8 is assigned.
  [[0], 8, "reserved"],
  [[0x64, 0xff9b, 1], 48, "local-use NAT64"],
  [[0x100, 0, 0, 0], 64, "discard"],
  [[0x2001, 0], 23, "IETF protocol assignments"],
  [[0x2001, 0xdb8], 32, "documentation"],
  [[0x3fff, 0], 20, "documentation"],
  [[0xfc00], 7, "unique local"],
  [[0xfe80], 10, "link-local"],
  [[0xfec0], 10, "site-local"],
  [[0xff00], 8, "multicast"],
];

function inCidr(address: number[], [prefix, bits]: Cidr, width: number): boolean {
  for (let i = 0; bits > 0; i++, bits -= width) {
    const mask = bits >= width ? (1 << width) - 1 : ((1 << width) - 1) ^ ((1 << (width - bits)) - 1);
    if (((address[i] ?? 0) & mask) !== ((prefix[i] ?? 0) & mask)) return false;
  }
  return true;
}

/** Parses canonical dotted-quad IPv4 (what the URL parser produces). */
export function parseIpv4(host: string): number[] | null {
  const parts = host.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p))) return null;
  const bytes = parts.map(Number);
  return bytes.every((b) => b <= 255) ? bytes : null;
}

/** Parses an IPv6 literal (with or without brackets, embedded IPv4 allowed) into 8 groups. */
export function parseIpv6(host: string): number[] | null {
  let text = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (text.includes("%")) return null; // zone ids never name a public host
  if (!text.includes(":")) return null;
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(":");
  const maybeV4 = text.slice(lastColon + 1);
  if (maybeV4.includes(".")) {
    const v4 = parseIpv4(maybeV4);
    if (!v4) return null;
    tail = [(v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!];
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const parse = (s: string) => (s === "" ? [] : s.split(":").map((g) => (/^[0-9a-f]{1,4}$/i.test(g) ? parseInt(g, 16) : NaN)));
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  if ([...head, ...rest].some(Number.isNaN)) return null;
  const fill = 8 - head.length - rest.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) return null;
  const groups = [...head, ...Array<number>(halves.length === 2 ? fill : 0).fill(0), ...rest];
  if (tail.length) groups.splice(6, 2, ...tail);
  return groups.length === 8 ? groups : null;
}

function ipv4Reason(bytes: number[]): string | null {
  if (bytes.every((b) => b === 255)) return "broadcast";
  return IPV4_BLOCKED.find((cidr) => inCidr(bytes, cidr, 8))?.[2] ?? null;
}

const embeddedIpv4 = (g: number[], at: number) => [g[at]! >> 8, g[at]! & 255, g[at + 1]! >> 8, g[at + 1]! & 255];

function ipv6Reason(groups: number[]): string | null {
  // Forms that carry an IPv4 address are judged by that address.
  const zeros5 = groups.slice(0, 5).every((g) => g === 0);
  if (zeros5 && groups[5] === 0xffff) return ipv4Reason(embeddedIpv4(groups, 6)); // ::ffff:a.b.c.d
  if (groups.slice(0, 4).every((g) => g === 0) && groups[4] === 0xffff && groups[5] === 0) {
    return ipv4Reason(embeddedIpv4(groups, 6)); // IPv4-translated ::ffff:0:a.b.c.d
  }
  if (zeros5 && groups[5] === 0 && (groups[6]! > 0 || groups[7]! > 1)) return ipv4Reason(embeddedIpv4(groups, 6)); // ::a.b.c.d
  if (groups[0] === 0x64 && groups[1] === 0xff9b && groups.slice(2, 6).every((g) => g === 0)) {
    return ipv4Reason(embeddedIpv4(groups, 6)); // NAT64
  }
  if (groups[0] === 0x2002) return ipv4Reason(embeddedIpv4(groups, 1)) ?? null; // 6to4
  return IPV6_BLOCKED.find((cidr) => inCidr(groups, cidr, 16))?.[2] ?? null;
}

/** Why a canonical host may not be contacted, or null if it looks public. */
export function forbiddenHostReason(host: string): string | null {
  const name = host.toLowerCase().replace(/\.$/, "");
  const v4 = parseIpv4(name);
  if (v4) return ipv4Reason(v4);
  const v6 = parseIpv6(name);
  if (v6) return ipv6Reason(v6);
  if (BLOCKED_NAMES.has(name) || BLOCKED_NAME_SUFFIXES.some((suffix) => name.endsWith(suffix))) return "internal name";
  // A single-label name only resolves through local search domains.
  if (!name.includes(".")) return "single-label name";
  return null;
}

/** Canonicalizes a bare host name or IP literal the way the URL parser would; null if invalid. */
export function canonicalHost(raw: string): string | null {
  const trimmed = raw.trim();
  if (!trimmed || /[\s/?#@\\]/.test(trimmed)) return null;
  const bracketed = trimmed.includes(":") && !trimmed.startsWith("[") ? `[${trimmed}]` : trimmed;
  try {
    const url = new URL(`http://${bracketed}/`);
    if (url.port !== "" || url.username || url.password) return null;
    return url.hostname;
  } catch {
    return null;
  }
}

/** Checks a data-source host. */
export function checkHost(raw: string, options: GuardOptions): GuardResult {
  const host = canonicalHost(raw);
  if (!host) return { ok: false, reason: "not a valid host name or IP address" };
  if (options.allowPrivate) return { ok: true, host };
  const reason = forbiddenHostReason(host);
  return reason ? { ok: false, reason: `${reason} addresses are not allowed` } : { ok: true, host };
}

/** Checks a webhook URL: https only (http too in development), no userinfo, a public host. */
export function checkUrl(raw: string, options: GuardOptions): GuardResult {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: "not a valid URL" };
  }
  const allowedProtocols = options.allowPrivate ? ["https:", "http:"] : ["https:"];
  if (!allowedProtocols.includes(url.protocol)) return { ok: false, reason: "URL must use https" };
  if (url.username || url.password) return { ok: false, reason: "URL must not contain credentials" };
  if (options.allowPrivate) return { ok: true, host: url.hostname };
  const reason = forbiddenHostReason(url.hostname);
  return reason ? { ok: false, reason: `${reason} addresses are not allowed` } : { ok: true, host: url.hostname };
}
