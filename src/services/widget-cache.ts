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

let opened: Promise<Cache> | undefined;
function widgetCache(): Promise<Cache> | null {
  // `caches` is absent outside the Workers runtime.
  if (typeof caches === "undefined") return null;
  opened ??= caches.open(CACHE_NAME);
  return opened;
}

/** The cached result if present and younger than `ttlSeconds` (the widget's TTL now, not when stored). */
export async function readCachedResult(key: string, ttlSeconds: number, now = Date.now()): Promise<CachedEntry | null> {
  const cache = widgetCache();
  if (!cache || ttlSeconds <= 0) return null;
  try {
    const hit = await (await cache).match(key);
    if (!hit) return null;
    const entry = (await hit.json()) as CachedEntry;
    if (now - Date.parse(entry.cachedAt) > ttlSeconds * 1000) return null;
    return entry;
  } catch (err) {
    // A cache failure costs a query, never the widget.
    log("warn", "widget cache read failed", { error: err instanceof Error ? err.message : String(err) });
    return null;
  }
}

export async function writeCachedResult(key: string, result: TabularResult, ttlSeconds: number, now = Date.now()): Promise<void> {
  const cache = widgetCache();
  if (!cache || ttlSeconds <= 0) return;
  const entry: CachedEntry = { result, cachedAt: new Date(now).toISOString() };
  try {
    await (await cache).put(
      key,
      new Response(JSON.stringify(entry), {
        headers: { "content-type": "application/json", "cache-control": `max-age=${Math.ceil(ttlSeconds)}` },
      }),
    );
  } catch (err) {
    log("warn", "widget cache write failed", { error: err instanceof Error ? err.message : String(err) });
  }
}
