// Widget results cached in the Workers Cache API (a named cache, keyed by a synthetic URL).
// Why not a D1 table: a result may be megabytes (5,000 wide rows) while a D1 value tops out at
// 2 MB, every miss would be a write on the single D1 primary that app writes also queue on, and
// expired rows would need sweeping. The Cache API stores up to 512 MB per entry, expires entries
// itself (Cache-Control max-age) and costs no D1 traffic. Its limits, accepted: it is per data
// center (another location runs the query once more), and on *.workers.dev, in the dashboard's
// editor and behind Cloudflare Access it is a no-op, so there every view runs its queries.
// Locally (wrangler dev, vitest) Miniflare implements it.
//
// The key holds the organization, the widget, a hash of what produced the rows (data source,
// that source's version, the SQL) and a hash of the params. Editing the query, the params or the
// data source — or the source's connection, which bumps its updatedAt — yields a new key, so the
// old entry is simply never read again and ages out. No purge is needed, none across colos either.
import type { TabularResult } from "../lib/query-result";
import { sha256Hex } from "../lib/crypto";
import { log } from "../lib/log";

const CACHE_NAME = "edgeboard:widget-data";
const KEY_ORIGIN = "https://widget-data.edgeboard.internal";

export interface CacheKeyParts {
  organizationId: string;
  widgetId: string;
  dataSourceId: string;
  /** Changes whenever the source's connection does (updatedAt; a fixed version for the sample). */
  sourceVersion: string;
  query: string;
  params: Record<string, unknown>;
}

/** Stable JSON (sorted keys), so `{a, b}` and `{b, a}` hash alike. */
function canonical(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
}

export async function cacheKey(parts: CacheKeyParts): Promise<string> {
  const queryHash = await sha256Hex(canonical([parts.dataSourceId, parts.sourceVersion, parts.query]));
  const paramsHash = await sha256Hex(canonical(parts.params));
  return `${KEY_ORIGIN}/v1/${parts.organizationId}/${parts.widgetId}/${queryHash}/${paramsHash}`;
}

interface CachedEntry {
  result: TabularResult;
  cachedAt: string;
}

// In front of the Cache API, each isolate keeps the entries it recently read or wrote: a
// dashboard view then costs no cache lookup at all. It trusts its copy for at most
// MEMORY_MAX_AGE_MS (and never past the widget's TTL), so after a refresh=true served by
// another isolate, a view here may show the previous result — with its own, older cachedAt —
// for at most that long. Same keys, so the same isolation between organizations.
const MEMORY_MAX_AGE_MS = 10_000;
const MEMORY_MAX_BYTES = 8 * 1024 * 1024;
const MEMORY_MAX_ENTRY_BYTES = 512 * 1024;
const memory = new Map<string, { entry: CachedEntry; until: number; bytes: number }>();
let memoryBytes = 0;

function forget(key: string): void {
  const old = memory.get(key);
  if (!old) return;
  memory.delete(key);
  memoryBytes -= old.bytes;
}

function remember(key: string, entry: CachedEntry, bytes: number, ttlSeconds: number, now: number): void {
  forget(key);
  if (bytes > MEMORY_MAX_ENTRY_BYTES) return;
  memory.set(key, { entry, bytes, until: now + Math.min(MEMORY_MAX_AGE_MS, ttlSeconds * 1000) });
  memoryBytes += bytes;
  // Oldest first (a Map keeps insertion order, and remember() re-inserts).
  for (const oldest of memory.keys()) {
    if (memoryBytes <= MEMORY_MAX_BYTES) break;
    forget(oldest);
  }
}

const fresh = (entry: CachedEntry, ttlSeconds: number, now: number) => now - Date.parse(entry.cachedAt) <= ttlSeconds * 1000;

let opened: Promise<Cache> | undefined;
function widgetCache(): Promise<Cache> | null {
  // `caches` is absent outside the Workers runtime.
  if (typeof caches === "undefined") return null;
  opened ??= caches.open(CACHE_NAME);
  return opened;
}

/** The cached result if present and younger than `ttlSeconds` (the widget's TTL now, not when stored). */
export async function readCachedResult(key: string, ttlSeconds: number, now = Date.now()): Promise<CachedEntry | null> {
  if (ttlSeconds <= 0) return null;
  const local = memory.get(key);
  if (local && now < local.until && fresh(local.entry, ttlSeconds, now)) return local.entry;
  const cache = widgetCache();
  if (!cache) return null;
  try {
    const hit = await (await cache).match(key);
    if (!hit) return null;
    const text = await hit.text();
    const entry = JSON.parse(text) as CachedEntry;
    if (!fresh(entry, ttlSeconds, now)) return null;
    remember(key, entry, text.length, ttlSeconds, now);
    return entry;
  } catch (err) {
    // A cache failure costs a query, never the widget.
    log("warn", "widget cache read failed", { error: err instanceof Error ? err.message : String(err) });
    return null;
  }
}

export async function writeCachedResult(key: string, result: TabularResult, ttlSeconds: number, now = Date.now()): Promise<void> {
  if (ttlSeconds <= 0) return;
  const entry: CachedEntry = { result, cachedAt: new Date(now).toISOString() };
  const text = JSON.stringify(entry);
  remember(key, entry, text.length, ttlSeconds, now);
  const cache = widgetCache();
  if (!cache) return;
  try {
    await (await cache).put(
      key,
      new Response(text, { headers: { "content-type": "application/json", "cache-control": `max-age=${Math.ceil(ttlSeconds)}` } }),
    );
  } catch (err) {
    log("warn", "widget cache write failed", { error: err instanceof Error ? err.message : String(err) });
  }
}
