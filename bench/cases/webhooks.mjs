// Benchmark case: webhook delivery under load with an unreliable receiver.
//
// 1,000 dashboard changes (creates, then renames) with one subscription pointing at a local
// receiver that fails 30% of first attempts with a 500. Reports the time until every change has
// been delivered, p50/p95 change-to-delivery latency (change response → first 2xx delivery), and
// counts: delivered, lost (must be 0), duplicate webhook-ids (a delivery accepted twice), invalid
// signatures (must be 0).
//
// The Worker must run with a short retry schedule and may reach loopback, e.g.
//   npx wrangler dev --port 8796 --var WEBHOOK_RETRY_SCHEDULE:1,2,4,8,16 --var ALLOW_PRIVATE_NETWORK_TARGETS:true
// (`workerVars` below says so to a harness that starts the Worker itself). Standalone:
//   node bench/cases/webhooks.mjs --base-url http://127.0.0.1:8796 [--changes 1000] [--concurrency 20]
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { Webhook } from "standardwebhooks";
import { startVerifyingReceiver } from "../../scripts/lib/webhook-receiver.mjs";

export const name = "webhooks";
export const description = "1,000 dashboard changes → signed webhook deliveries, receiver fails 30% of first attempts";
/** [vars] this case needs on the Worker under test. */
export const workerVars = {
  WEBHOOK_RETRY_SCHEDULE: "1,2,4,8,16",
  ALLOW_PRIVATE_NETWORK_TARGETS: "true",
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function call(baseUrl, method, path, token, body, stats) {
  for (;;) {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    // A rate limiter in front of the API is not what this case measures: wait and go again.
    if (res.status === 429) {
      stats.rateLimited++;
      await sleep(Number(res.headers.get("retry-after") ?? "1") * 1000);
      continue;
    }
    const text = await res.text();
    const json = text ? JSON.parse(text) : null;
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${text.slice(0, 300)}`);
    return json;
  }
}

/** The unreliable receiver: verifies every delivery, fails a share of first attempts. */
async function startReceiver({ failRate, expectedNames }) {
  const state = {
    verifier: null,
    succeeded: new Set(),
    deliveredAt: new Map(),
    requests: 0,
    firstAttemptFailures: 0,
    duplicates: 0,
    invalidSignatures: 0,
    unexpected: 0,
  };
  const onAccepted = (event, id) => {
    if (state.succeeded.has(id)) state.duplicates++;
    else {
      state.succeeded.add(id);
      const index = expectedNames.get(event?.data?.name);
      if (index === undefined) state.unexpected++;
      else if (!state.deliveredAt.has(index)) state.deliveredAt.set(index, performance.now());
    }
  };
  const { server, port } = await startVerifyingReceiver({ failRate, state, onAccepted });
  return { server, state, port };
}

/**
 * Runs the case against a running Worker. `token` must be an admin's (webhooks are admin-only);
 * without one, a fresh organization is registered.
 */
export default async function run({ baseUrl, token, changes = 1000, concurrency = 20, failRate = 0.3, timeoutMs = 180_000, log = console.log } = {}) {
  const stats = { rateLimited: 0 };
  if (!token) {
    const email = `bench-webhooks-${Date.now()}@example.com`;
    const reg = await call(baseUrl, "POST", "/api/auth/register", null, { email, password: "bench password 123", firstName: "Bench", lastName: "Webhooks", organizationName: "Bench" }, stats);
    token = reg.accessToken;
  }
  const runId = Date.now().toString(36);
  const names = Array.from({ length: changes }, (_, i) => `bench-${runId}-${i}`);
  const expectedNames = new Map(names.map((n, i) => [n, i]));
  const { server, state, port } = await startReceiver({ failRate, expectedNames });

  const sub = await call(baseUrl, "POST", "/api/webhooks", token, {
    url: `http://127.0.0.1:${port}/bench`,
    events: ["dashboard.created", "dashboard.updated"],
    description: `bench ${runId}`,
  }, stats);
  state.verifier = new Webhook(sub.secret);

  // A tenth of the changes create dashboards; the rest rename them round robin.
  const creates = Math.max(1, Math.floor(changes / 10));
  const dashboards = [];
  const changedAt = new Array(changes);
  const started = performance.now();
  let next = 0;
  async function worker() {
    for (;;) {
      const i = next++;
      if (i >= changes) return;
      if (i < creates) {
        const d = await call(baseUrl, "POST", "/api/dashboards", token, { name: names[i] }, stats);
        dashboards[i] = d.id;
      } else {
        // Renames wait for their dashboard's create to have answered.
        while (dashboards.filter(Boolean).length === 0) await sleep(5);
        const ready = dashboards.filter(Boolean);
        await call(baseUrl, "PATCH", `/api/dashboards/${ready[i % ready.length]}`, token, { name: names[i] }, stats);
      }
      changedAt[i] = performance.now();
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, changes) }, worker));
  const changesDoneMs = performance.now() - started;

  const deadline = performance.now() + timeoutMs;
  while (state.deliveredAt.size < changes && performance.now() < deadline) await sleep(50);
  const allDeliveredMs = state.deliveredAt.size === changes ? Math.max(...state.deliveredAt.values()) - started : null;
  // Linger briefly so a late duplicate would be counted.
  await sleep(2000);

  const latencies = [...state.deliveredAt].map(([i, at]) => at - changedAt[i]).sort((a, b) => a - b);
  const count = async (status) =>
    (await call(baseUrl, "GET", `/api/webhooks/${sub.id}/deliveries?status=${status}&limit=1`, token, null, stats)).meta.total;
  const log_ = { succeeded: await count("succeeded"), pending: await count("pending"), failed: await count("failed") };
  await call(baseUrl, "DELETE", `/api/webhooks/${sub.id}`, token, null, stats).catch(() => {});
  server.closeAllConnections();
  server.close();

  const result = {
    changes,
    concurrency,
    changesDurationMs: Math.round(changesDoneMs),
    changesPerSecond: Math.round((changes / changesDoneMs) * 1000),
    timeUntilAllDeliveredMs: allDeliveredMs === null ? null : Math.round(allDeliveredMs),
    latencyMs: {
      p50: Math.round(percentile(latencies, 50) ?? NaN),
      p95: Math.round(percentile(latencies, 95) ?? NaN),
      max: Math.round(latencies.at(-1) ?? NaN),
    },
    delivered: state.deliveredAt.size,
    lost: changes - state.deliveredAt.size,
    duplicateWebhookIds: state.duplicates,
    invalidSignatures: state.invalidSignatures,
    firstAttemptFailures: state.firstAttemptFailures,
    receiverRequests: state.requests,
    unexpectedEvents: state.unexpected,
    deliveryLog: log_,
    rateLimitedRequests: stats.rateLimited,
  };
  log(`webhooks: ${JSON.stringify(result, null, 2)}`);
  return result;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const { values } = parseArgs({
    options: {
      "base-url": { type: "string", default: "http://127.0.0.1:8796" },
      token: { type: "string" },
      changes: { type: "string", default: "1000" },
      concurrency: { type: "string", default: "20" },
    },
  });
  const result = await run({
    baseUrl: values["base-url"],
    token: values.token,
    changes: Number(values.changes),
    concurrency: Number(values.concurrency),
  });
  process.exit(result.lost === 0 && result.duplicateWebhookIds === 0 && result.invalidSignatures === 0 ? 0 : 1);
}
