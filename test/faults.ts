// Fault injection for the Worker's bindings. Each wrapper stands in for one binding in the env
// a test passes to the Worker's handlers (`worker.fetch(request, { ...env, DB: d1.binding }, ctx)`)
// and fails the way the real service can: D1 refusing a query, the Queue refusing a send, the
// rate limiter's Durable Object erroring or never answering. Every fault raised is counted, so
// the fault suites can report how many they injected.
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import type { RateLimiter } from "../src/durable-objects/rate-limiter";
import worker from "../src/index";
import { readResponse, requestInit, TEST_ORIGIN, type ApiResponse } from "./helpers";
import { runResponseChecks } from "./response-checks";

const injected = new Map<string, number>();

/** Counts faults raised outside these wrappers (e.g. by the test receiver). */
export function count(kind: string, n = 1): void {
  injected.set(kind, (injected.get(kind) ?? 0) + n);
}

/** Faults raised so far in this test file, by kind. */
export function faultsInjected(): { total: number; byKind: Record<string, number> } {
  const byKind = Object.fromEntries([...injected].sort());
  return { total: [...injected.values()].reduce((a, b) => a + b, 0), byKind };
}

// ---- D1

/** One call that reaches the database: a statement run (first/all/run/raw), a batch, or exec. */
export interface D1Call {
  /** 1-based position among this wrapper's calls. */
  n: number;
  kind: "first" | "all" | "run" | "raw" | "batch" | "exec";
  /** The statement's SQL; every statement's for a batch. */
  sql: string[];
}

export interface D1FaultRule {
  /** Fail the call with this 1-based position. */
  failAt?: number;
  /** Fail calls whose SQL (any statement of a batch) matches. */
  sql?: RegExp;
  /** How many matching calls fail (default 1); Infinity for all. */
  times?: number;
  /**
   * "before" (default): the call fails without touching the database. "after": the call runs and
   * commits, then its answer is lost (a connection dropped after the commit).
   */
  when?: "before" | "after";
}

export class InjectedFault extends Error {
  override name = "InjectedFault";
}

export interface FaultyD1 {
  binding: D1Database;
  calls: D1Call[];
  /** Calls that were failed. */
  failed: D1Call[];
}

/**
 * A D1Database that passes every call through to `real` except those `rule` picks, which throw
 * like D1 does (`D1_ERROR: ...`). With no rule it only records the calls (a dry run tells a test
 * how many calls a request makes, so it can then fail each one in turn).
 */
export function faultyD1(real: D1Database, rule: D1FaultRule = {}): FaultyD1 {
  const calls: D1Call[] = [];
  const failed: D1Call[] = [];
  let remaining = rule.times ?? 1;
  // Wrapped statement → the real one (a batch must be given D1's own objects) and its SQL.
  const unwrap = new WeakMap<object, { real: D1PreparedStatement; sql: string }>();

  async function call<T>(kind: D1Call["kind"], sql: string[], run: () => Promise<T>): Promise<T> {
    const entry: D1Call = { n: calls.length + 1, kind, sql };
    calls.push(entry);
    const picked =
      (rule.failAt === undefined || rule.failAt === entry.n) &&
      (rule.sql === undefined || sql.some((s) => rule.sql!.test(s))) &&
      (rule.failAt !== undefined || rule.sql !== undefined) &&
      remaining > 0;
    if (!picked) return run();
    remaining--;
    failed.push(entry);
    count("d1");
    const fault = new InjectedFault(`D1_ERROR: injected fault on ${kind} #${entry.n}`);
    if (rule.when === "after") await run();
    throw fault;
  }

  function statement(sql: string, real: D1PreparedStatement): D1PreparedStatement {
    const wrapped = {
      bind: (...values: unknown[]) => statement(sql, real.bind(...values)),
      first: (column?: string) => call("first", [sql], () => (column === undefined ? real.first() : real.first(column))),
      all: () => call("all", [sql], () => real.all()),
      run: () => call("run", [sql], () => real.run()),
      raw: (options?: { columnNames?: boolean }) => call("raw", [sql], () => real.raw(options as { columnNames: true })),
    };
    unwrap.set(wrapped, { real, sql });
    return wrapped as unknown as D1PreparedStatement;
  }

  const binding = {
    prepare: (query: string) => statement(query, real.prepare(query)),
    batch(statements: D1PreparedStatement[]) {
      const parts = statements.map((s) => unwrap.get(s) ?? { real: s, sql: "(unwrapped statement)" });
      return call("batch", parts.map((p) => p.sql), () => real.batch(parts.map((p) => p.real)));
    },
    exec(query: string) {
      return call("exec", [query], () => real.exec(query));
    },
    withSession: () => binding,
    dump: () => real.dump(),
  };
  return { binding: binding as unknown as D1Database, calls, failed };
}

/**
 * Every application table's rows, sorted, as one comparable value: equal snapshots before and
 * after a failed request mean it wrote nothing.
 */
export async function snapshotD1(db: D1Database = env.DB): Promise<Record<string, string[]>> {
  const { results: tables } = await db
    .prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name <> 'd1_migrations' ORDER BY name",
    )
    .all<{ name: string }>();
  const snapshot: Record<string, string[]> = {};
  for (const { name } of tables) {
    const { results } = await db.prepare(`SELECT * FROM "${name}"`).all();
    snapshot[name] = results.map((row) => JSON.stringify(row)).sort();
  }
  return snapshot;
}

// ---- Queue

/** A Queue binding whose send and sendBatch throw (an outage), counting each refusal. */
export function failingQueue<T = unknown>(): Queue<T> & { refused: number } {
  const queue = {
    refused: 0,
    async send() {
      queue.refused++;
      count("queue");
      throw new InjectedFault("Queue send failed: injected fault");
    },
    async sendBatch() {
      queue.refused++;
      count("queue");
      throw new InjectedFault("Queue sendBatch failed: injected fault");
    },
  };
  return queue as unknown as Queue<T> & { refused: number };
}

// ---- Rate limiter Durable Object

export type LimiterFault = "rejects" | "hangs" | "stub throws" | "lookup throws";

/**
 * A RATE_LIMITER namespace that fails in one of the ways a Durable Object can: `consume` rejects
 * (an exception or an overloaded object), never answers (a stuck object: the request's timeout
 * must end the wait), or the stub or the lookup throw synchronously.
 */
export function failingLimiter(fault: LimiterFault): DurableObjectNamespace<RateLimiter> {
  const consume = () => {
    count("durable-object");
    if (fault === "rejects") return Promise.reject(new InjectedFault("Durable Object reset because its code was updated (injected)"));
    if (fault === "hangs") return new Promise(() => {});
    throw new InjectedFault("Durable Object stub broken (injected)");
  };
  return {
    getByName: () => {
      if (fault === "lookup throws") {
        count("durable-object");
        throw new InjectedFault("Durable Object namespace unavailable (injected)");
      }
      return { consume };
    },
  } as unknown as DurableObjectNamespace<RateLimiter>;
}

// ---- Calling the Worker with a changed env

export interface CallOptions {
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

/**
 * One request through the Worker's fetch handler with `overrides` in its env, waiting for its
 * waitUntil work (the outbox's Queue send) to finish. The response passes the suite's
 * response checks, like every api() response.
 */
export async function callWith(overrides: Partial<Env>, method: string, path: string, options: CallOptions = {}): Promise<ApiResponse> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`${TEST_ORIGIN}${path}`, requestInit(method, options)), { ...env, ...overrides } as Env, ctx);
  const { response, text } = await readResponse(res);
  await waitOnExecutionContext(ctx);
  runResponseChecks({ method, path, requestBody: options.body, response, text });
  return response;
}
