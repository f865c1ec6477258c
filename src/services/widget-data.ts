// Producing widgets' `data`: read each widget's query from its config, answer from the cache
// when a fresh entry exists, otherwise run it on its data source (sample D1, PostgreSQL, MySQL)
// and cache the result. All widgets of a request run concurrently, share one small connection
// pool per data source, and are bounded by one overall deadline; a widget that fails or is late
// carries its own `{ error }` and never fails the others or the response.
import { and, inArray } from "drizzle-orm";
import { dataSources, type DataSource, type Widget } from "../db/schema";
import type { Config, Database } from "../env";
import { ConnectionFailure, connectorFor, type ConnectionSettings } from "../connectors";
import { SessionPool } from "../connectors/pool";
import { decryptSecret } from "../lib/crypto";
import { log } from "../lib/log";
import { QueryFailure, type TabularResult, type WidgetDataErrorCode, type WidgetDataResult } from "../lib/query-result";
import { MAX_CACHE_TTL_SECONDS } from "../schemas/widgets";
import { toConnectionSettings } from "./connection-tests";
import { SAMPLE_DATA_SOURCE_ID, SAMPLE_DATA_VERSION, runSampleQuery } from "./sample-source";
import { cacheKey, readCachedResult, writeCachedResult } from "./widget-cache";

export const DEFAULT_CACHE_TTL_SECONDS = 300;
/** Bound for opening one connection (TCP, TLS, login) for widget queries. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Connections per data source per request; Workers allows six open sockets per request. */
const MAX_CONNECTIONS_PER_SOURCE = 3;

/** `data` of a widget with nothing to run (a text widget, or no query yet): the spec's `{}`. */
export type WidgetData = WidgetDataResult | Record<string, never>;

export interface WidgetDataContext {
  db: Database;
  config: Config;
  sampleDb: D1Database;
}

export interface WidgetDataOptions {
  /** Run now, ignoring a cached result (the fresh result is cached for the next view). */
  refresh?: boolean;
  /** Tokenless view: error messages say what failed, not the database's words. */
  publicView?: boolean;
  /** Overrides config.widgetDataDeadlineMs. */
  deadlineMs?: number;
}

export interface WidgetQuery {
  query: string;
  params: Record<string, unknown>;
  cacheTtlSeconds: number;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * The query part of a widget's config, or null when there is none to run. The rest of the
 * config (visualization options) is the client's and is not looked at. Writes are validated
 * (src/schemas/widgets.ts); this checks again for rows written before that or around the API.
 */
export function widgetQuery(widget: Pick<Widget, "type" | "config">): WidgetQuery | null {
  const config = widget.config ?? {};
  if (widget.type === "text" || config.query === undefined || config.query === null) return null;
  if (typeof config.query !== "string" || config.query.trim() === "") {
    throw new QueryFailure("invalid_config", "config.query must be a non-empty SQL string");
  }
  const params = config.params ?? {};
  if (!isPlainObject(params)) throw new QueryFailure("invalid_config", "config.params must be an object of named values");
  const ttl = config.cacheTtlSeconds ?? DEFAULT_CACHE_TTL_SECONDS;
  if (typeof ttl !== "number" || !Number.isInteger(ttl) || ttl < 0 || ttl > MAX_CACHE_TTL_SECONDS) {
    throw new QueryFailure("invalid_config", `config.cacheTtlSeconds must be an integer from 0 to ${MAX_CACHE_TTL_SECONDS}`);
  }
  return { query: config.query, params, cacheTtlSeconds: ttl };
}

/** How a source runs queries: the built-in sample or a connection pool for this request. */
type Runner = { version: string; run: (q: WidgetQuery) => Promise<TabularResult> };

const PUBLIC_MESSAGES: Record<WidgetDataErrorCode, string> = {
  invalid_config: "This widget's configuration is invalid",
  query_error: "This widget's query failed",
  forbidden_statement: "This widget's query is not allowed",
  timeout: "This widget's query took too long",
  data_source_unavailable: "This widget's data source is unavailable",
  no_data_source: "This widget has no data source",
  internal_error: "This widget's data could not be loaded",
};

/**
 * `data` for each widget, in order. Never throws for a widget's sake: every failure, including
 * the deadline, becomes that widget's `{ error: { code, message } }`.
 */
export async function loadWidgetData(
  ctx: WidgetDataContext,
  widgets: Widget[],
  options: WidgetDataOptions = {},
): Promise<WidgetData[]> {
  const limits = { timeoutMs: ctx.config.queryTimeoutMs, maxRows: ctx.config.queryMaxRows, maxBytes: ctx.config.queryMaxBytes };
  const deadlineMs = options.deadlineMs ?? ctx.config.widgetDataDeadlineMs;
  const pools = new Map<string, SessionPool>();
  // Aborted at the deadline: connections still being opened then are given up (and closed).
  const abandon = new AbortController();
  let sources: Promise<Map<string, DataSource>> | undefined;

  const sourceIds = [...new Set(widgets.map((w) => w.dataSourceId).filter((id): id is string => !!id && id !== SAMPLE_DATA_SOURCE_ID))];
  const loadSources = () => (sources ??= fetchSources(ctx.db, widgets, sourceIds));
  const perSource = new Map<string, number>();
  for (const w of widgets) if (w.dataSourceId) perSource.set(w.dataSourceId, (perSource.get(w.dataSourceId) ?? 0) + 1);

  const runnerFor = async (widget: Widget): Promise<Runner> => {
    const id = widget.dataSourceId!;
    if (id === SAMPLE_DATA_SOURCE_ID) {
      return { version: SAMPLE_DATA_VERSION, run: (q) => runSampleQuery(ctx.sampleDb, q.query, q.params, limits) };
    }
    const source = (await loadSources()).get(`${widget.organizationId}/${id}`);
    if (!source) throw new QueryFailure("data_source_unavailable", "The widget's data source no longer exists");
    let pool = pools.get(source.id);
    if (!pool) {
      let settings: Promise<ConnectionSettings> | undefined;
      const connector = connectorFor(source.type);
      const connectOptions = { timeoutMs: CONNECT_TIMEOUT_MS, allowPrivate: ctx.config.allowPrivateNetworkTargets, signal: abandon.signal };
      const open = async () => {
        try {
          // Decrypted on the first cache miss only.
          settings ??= connectionSettings(source, ctx.config);
          return await connector.connect(await settings, connectOptions);
        } catch (err) {
          throw connectionFailure(err);
        }
      };
      pool = new SessionPool(open, Math.min(MAX_CONNECTIONS_PER_SOURCE, perSource.get(id) ?? 1));
      pools.set(source.id, pool);
    }
    const sessions = pool;
    return {
      version: source.updatedAt,
      // A session that failed, or stopped reading at the row cap, is not handed to the next widget.
      run: (q) => sessions.use((session) => session.readQuery(q.query, q.params, limits), (result) => !result.truncated),
    };
  };

  const one = async (widget: Widget): Promise<WidgetData> => {
    const query = widgetQuery(widget);
    if (!query) return {};
    if (!widget.dataSourceId) throw new QueryFailure("no_data_source", "The widget has a query but no dataSourceId");
    const runner = await runnerFor(widget);
    const key = await cacheKey({
      organizationId: widget.organizationId,
      widgetId: widget.id,
      dataSourceId: widget.dataSourceId,
      sourceVersion: runner.version,
      query: query.query,
      params: query.params,
    });
    if (!options.refresh) {
      const cached = await readCachedResult(key, query.cacheTtlSeconds);
      if (cached) return { ...cached.result, cachedAt: cached.cachedAt };
    }
    const result = await runner.run(query);
    await writeCachedResult(key, result, query.cacheTtlSeconds);
    return { ...result, cachedAt: null };
  };

  let timer: ReturnType<typeof setTimeout> | undefined;
  let deadlinePassed = false;
  const deadline = new Promise<"deadline">((resolve) => {
    timer = setTimeout(() => {
      deadlinePassed = true;
      abandon.abort();
      resolve("deadline");
    }, deadlineMs);
  });
  try {
    return await Promise.all(
      widgets.map(async (widget) => {
        try {
          const outcome = await Promise.race([one(widget), deadline]);
          if (outcome === "deadline") {
            throw new QueryFailure("timeout", `The dashboard's ${deadlineMs} ms deadline passed before this widget's data was ready`);
          }
          return outcome;
        } catch (err) {
          return failureData(err, widget, options);
        }
      }),
    );
  } finally {
    clearTimeout(timer);
    const closing = Promise.allSettled([...pools.values()].map((p) => p.close()));
    // Late queries still hold connections; the answer does not wait for them to wind down
    // (each is bounded by its statement timeout, and the runtime closes sockets with the request).
    if (!deadlinePassed) await closing;
  }
}

function failureData(err: unknown, widget: Widget, options: WidgetDataOptions): WidgetData {
  const failure = err instanceof QueryFailure ? err : new QueryFailure("internal_error", PUBLIC_MESSAGES.internal_error);
  if (!(err instanceof QueryFailure) || failure.detail) {
    log(failure.code === "internal_error" ? "error" : "warn", `widget data: ${failure.code}`, {
      widgetId: widget.id,
      dataSourceId: widget.dataSourceId,
      reason: failure.detail ?? (err instanceof Error ? err.message : String(err)),
    });
  }
  // Members see what went wrong; the tokenless public view only which kind of thing did.
  return { error: { code: failure.code, message: options.publicView ? PUBLIC_MESSAGES[failure.code] : failure.message } };
}

/** The widgets' data-source rows in one query, each checked against its widget's organization. */
async function fetchSources(db: Database, widgets: Widget[], ids: string[]): Promise<Map<string, DataSource>> {
  const byKey = new Map<string, DataSource>();
  if (ids.length === 0) return byKey;
  const orgs = [...new Set(widgets.map((w) => w.organizationId))];
  const rows = await db
    .select()
    .from(dataSources)
    .where(and(inArray(dataSources.id, ids), inArray(dataSources.organizationId, orgs)));
  // Keyed by organization too: a widget can only ever reach a source of its own organization.
  for (const row of rows) byKey.set(`${row.organizationId}/${row.id}`, row);
  return byKey;
}

/** The connector's settings, the stored password decrypted (the host guard is the connector's). */
async function connectionSettings(source: DataSource, config: Config): Promise<ConnectionSettings> {
  let password: string | undefined;
  if (source.passwordEncrypted !== null && source.passwordKeyVersion !== null) {
    try {
      password = await decryptSecret({ ciphertext: source.passwordEncrypted, keyVersion: source.passwordKeyVersion }, config.encryptionKey);
    } catch {
      throw new QueryFailure("data_source_unavailable", "The data source's stored password could not be decrypted");
    }
  }
  return toConnectionSettings({ ...source, ...(password !== undefined && { password }) });
}

/** A connector's classified failure (its message is written for a person) as the widget's. */
function connectionFailure(err: unknown): QueryFailure {
  if (err instanceof QueryFailure) return err;
  if (err instanceof ConnectionFailure) {
    const cause = err.cause instanceof Error ? err.cause.message : err.cause === undefined ? undefined : String(err.cause);
    return new QueryFailure("data_source_unavailable", err.message, cause ?? err.code);
  }
  return new QueryFailure("data_source_unavailable", "Could not connect to the data source", err instanceof Error ? err.message : String(err));
}
