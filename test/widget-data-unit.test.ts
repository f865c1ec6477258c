import { describe, expect, it } from "vitest";
import { SessionPool } from "../src/connectors/pool";
import type { Session } from "../src/connectors/types";
import { inferColumnType, sqlDatetimeToIso, toCell } from "../src/lib/query-result";
import { cacheKey, readCachedResult, writeCachedResult, type CacheKeyParts } from "../src/services/widget-cache";

const parts: CacheKeyParts = {
  organizationId: "org-a",
  widgetId: "widget-1",
  dataSourceId: "source-1",
  sourceVersion: "2025-01-01T00:00:00.000Z",
  query: "SELECT 1",
  params: { a: 1, b: "x" },
};

describe("cacheKey", () => {
  it("puts the organization and the widget in the key, and hashes what produced the rows", async () => {
    const key = await cacheKey(parts);
    expect(key).toMatch(/^https:\/\/widget-data\.edgeboard\.internal\/v1\/org-a\/widget-1\/[0-9a-f]{64}\/[0-9a-f]{64}$/);
    expect(key).not.toContain("SELECT");
  });

  it("changes with every input, but not with the order of params", async () => {
    const base = await cacheKey(parts);
    const variants: Partial<CacheKeyParts>[] = [
      { organizationId: "org-b" },
      { widgetId: "widget-2" },
      { dataSourceId: "source-2" },
      { sourceVersion: "2025-01-02T00:00:00.000Z" },
      { query: "SELECT 2" },
      { params: { a: 2, b: "x" } },
      { params: { a: 1 } },
    ];
    for (const v of variants) expect(await cacheKey({ ...parts, ...v }), JSON.stringify(v)).not.toBe(base);
    expect(await cacheKey({ ...parts, params: { b: "x", a: 1 } })).toBe(base);
  });

  it("reads back a stored result only while it is younger than the widget's TTL now", async () => {
    const key = await cacheKey({ ...parts, widgetId: `ttl-${Date.now()}` });
    const result = { columns: [{ name: "n", type: "integer" as const }], rows: [[1]], rowCount: 1, truncated: false, durationMs: 1 };
    const storedAt = Date.now() - 60_000;
    await writeCachedResult(key, result, 300, storedAt);
    // Stored in the Workers Cache API (the isolate's own copy of an entry this old has lapsed).
    const stored = await (await caches.open("edgeboard:widget-data")).match(key);
    expect(await stored!.json()).toEqual({ result, cachedAt: new Date(storedAt).toISOString() });
    expect(await readCachedResult(key, 300)).toEqual({ result, cachedAt: new Date(storedAt).toISOString() });
    // The TTL was lowered below the entry's age: it is not served any more.
    expect(await readCachedResult(key, 30)).toBeNull();
    expect(await readCachedResult(key, 0)).toBeNull();
    expect(await readCachedResult(`${key}-other`, 300)).toBeNull();
  });
});

describe("value conversion", () => {
  it("makes SQL timestamps ISO 8601 UTC with at least milliseconds", () => {
    expect(sqlDatetimeToIso("2024-02-29 13:14:15")).toBe("2024-02-29T13:14:15.000Z");
    expect(sqlDatetimeToIso("2024-02-29 13:14:15.5")).toBe("2024-02-29T13:14:15.500Z");
    expect(sqlDatetimeToIso("2024-02-29 13:14:15.123456+00")).toBe("2024-02-29T13:14:15.123456Z");
    expect(sqlDatetimeToIso("2024-02-29 13:14:15+05:30")).toBe("2024-02-29T07:44:15.000Z");
    expect(sqlDatetimeToIso("infinity")).toBe("infinity");
  });

  it("keeps big numbers exact and turns what JSON lacks into text", () => {
    expect(toCell(2n ** 64n)).toBe("18446744073709551616");
    expect(toCell(Number.POSITIVE_INFINITY)).toBe("Infinity");
    expect(toCell(new Uint8Array([0, 255]))).toBe("AP8=");
    expect(toCell(new Date("2024-01-02T03:04:05.006Z"))).toBe("2024-01-02T03:04:05.006Z");
    expect(toCell({ n: 1n, list: [1] })).toEqual({ n: "1", list: [1] });
  });

  it("infers D1 column types from the values", () => {
    expect(inferColumnType([1, 2, null])).toBe("integer");
    expect(inferColumnType([1, 2.5])).toBe("number");
    expect(inferColumnType(["2024-01-01", null])).toBe("date");
    expect(inferColumnType(["2024-01-01 10:00:00"])).toBe("datetime");
    expect(inferColumnType(["2024-01-01", "x"])).toBe("string");
    expect(inferColumnType([[1, 2]])).toBe("bytes");
    expect(inferColumnType([null])).toBe("unknown");
  });
});

describe("SessionPool", () => {
  function fakeSessions() {
    const opened: { closed: boolean }[] = [];
    const open = async () => {
      const state = { closed: false };
      opened.push(state);
      return { close: async () => void (state.closed = true) } as unknown as Session;
    };
    return { opened, open };
  }

  it("opens lazily, at most `max` at once, and reuses a session that served well", async () => {
    const { opened, open } = fakeSessions();
    const pool = new SessionPool(open, 2);
    expect(opened).toHaveLength(0);
    let running = 0;
    let peak = 0;
    const work = () =>
      pool.use(async () => {
        peak = Math.max(peak, ++running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        return "ok";
      });
    expect(await Promise.all([work(), work(), work(), work(), work()])).toEqual(["ok", "ok", "ok", "ok", "ok"]);
    expect(peak).toBe(2);
    expect(opened).toHaveLength(2);
    await pool.close();
    expect(opened.every((s) => s.closed)).toBe(true);
  });

  it("closes a session after a failure or an unusable result instead of handing it on", async () => {
    const { opened, open } = fakeSessions();
    const pool = new SessionPool(open, 1);
    await expect(pool.use(async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(opened[0]!.closed).toBe(true);
    await pool.use(async () => ({ truncated: true }), (r) => !r.truncated);
    expect(opened[1]!.closed).toBe(true);
    await pool.use(async () => ({ truncated: false }), (r) => !r.truncated);
    expect(opened[2]!.closed).toBe(false);
    await pool.use(async () => "again");
    expect(opened).toHaveLength(3);
    await pool.close();
  });

  it("lets a waiting widget try its own connection when an open fails", async () => {
    let attempts = 0;
    const pool = new SessionPool(async () => {
      attempts++;
      if (attempts === 1) throw new Error("refused");
      return { close: async () => {} } as unknown as Session;
    }, 1);
    const [first, second] = await Promise.allSettled([pool.use(async () => 1), pool.use(async () => 2)]);
    expect(first).toMatchObject({ status: "rejected" });
    expect(second).toEqual({ status: "fulfilled", value: 2 });
    await pool.close();
  });
});
