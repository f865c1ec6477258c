// The API's hot paths against the floor of any D1 read. Three Workers under `wrangler dev`:
//  - the API (wrangler.toml), rate limiter ON with limits far too high to refuse, so every
//    request pays the Durable Object call it pays in production: every case and the targets;
//  - the same API with every rate-limit policy off: list and get-one again, so the table shows
//    what the limiter costs;
//  - bench/baseline/, a Worker that does nothing but one raw D1 `SELECT … LIMIT 20` of the
//    dashboards table: what any list read costs at least in this runtime.
// Each has its own local D1 (two workerd processes on one SQLite file fail with SQLITE_BUSY),
// migrated from drizzle/ and seeded straight into D1 with generated SQL, not through the API:
// an organization with 10,000 dashboards, one of them with 10 widgets (in all three), one with
// 1,000 and one with 100,000 (the scale check), and an empty one that takes the POSTs (so the
// others keep their sizes). Their admins are created with POST /api/auth/register, so login
// checks a real PBKDF2 hash.
// All sides run in alternating rounds (the order flips each round), so machine noise hits
// every side alike.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { RATE_LIMITS_OFF, ROOT, api, calibrateIdleCpu, load, startWorker, summarize, wranglerLocal } from "../harness.mjs";

// Every policy on, none ever reached: the limiter's Durable Object is on every request's path.
const RATE_LIMITS_HIGH = Object.fromEntries(Object.keys(RATE_LIMITS_OFF).map((name) => [name, "1000000000/60"]));
const PASSWORD = "benchmark password";
const WIDGET_DASHBOARD_ID = "d0000000-0000-4000-8000-000000000001";

export const LIST_TARGET = 0.9;
export const GET_TARGET = 0.8;
export const SCALE_TARGET = 1.5;

const fmt = (n, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "–");
const sqlText = (s) => `'${String(s).replaceAll("'", "''")}'`;

/**
 * `count` dashboards for one organization, generated inside SQLite (a recursive CTE), with ids
 * unique per organization and creation/update times spread over about two years, names in
 * mixed case so the case-insensitive name sort has work to do, and every fifth one public.
 */
function dashboardsSql(orgIndex, org, count) {
  const step = Math.max(1, Math.floor((2 * 365 * 86_400) / count));
  return `INSERT INTO dashboards (id, organization_id, name, description, is_public, layout, created_by, updated_by, created_at, updated_at)
WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ${count})
SELECT
  printf('%08x-0000-4000-8000-%012x', ${orgIndex}, n),
  ${sqlText(org.organizationId)},
  printf('%s %06d', CASE n % 4 WHEN 0 THEN 'Sales' WHEN 1 THEN 'marketing' WHEN 2 THEN 'Operations' ELSE 'finance' END, (n * 7919) % ${count}),
  'Seeded for the benchmark',
  n % 5 = 0,
  '{}',
  ${sqlText(org.userId)},
  ${sqlText(org.userId)},
  strftime('%Y-%m-%dT%H:%M:%fZ', '2024-01-01', printf('+%d.%03d seconds', n * ${step}, (n * 37) % 1000)),
  strftime('%Y-%m-%dT%H:%M:%fZ', '2024-01-01', printf('+%d.%03d seconds', n * ${step} + (n * 7777) % 2592000, (n * 53) % 1000))
FROM seq;`;
}

/** One dashboard with 10 widgets without a data source (their data is `{}`): the read itself. */
function widgetDashboardSql(org) {
  const now = "2025-06-01T12:00:00.000Z";
  const types = ["line_chart", "bar_chart", "area_chart", "pie_chart", "scatter_chart", "table", "metric", "text", "bar_chart", "line_chart"];
  const rows = types.map((type, i) => {
    const id = `d0000000-0000-4000-8001-${String(i + 1).padStart(12, "0")}`;
    const config = JSON.stringify({ note: `Widget ${i + 1}`, x: "month", y: ["revenue"] });
    return `(${sqlText(id)}, ${sqlText(org.organizationId)}, ${sqlText(WIDGET_DASHBOARD_ID)}, NULL, ${sqlText(type)}, ${sqlText(`Widget ${i + 1}`)}, ${sqlText(config)}, ${(i % 2) * 6}, ${Math.floor(i / 2) * 4}, 6, 4, ${sqlText(org.userId)}, ${sqlText(org.userId)}, ${sqlText(now)}, ${sqlText(now)})`;
  });
  return `INSERT INTO dashboards (id, organization_id, name, description, is_public, layout, created_by, updated_by, created_at, updated_at)
VALUES (${sqlText(WIDGET_DASHBOARD_ID)}, ${sqlText(org.organizationId)}, 'Ten widgets', 'Seeded for the benchmark', 0, '{}', ${sqlText(org.userId)}, ${sqlText(org.userId)}, ${sqlText(now)}, ${sqlText(now)});
INSERT INTO widgets (id, organization_id, dashboard_id, data_source_id, type, title, config, x, y, width, height, created_by, updated_by, created_at, updated_at)
VALUES ${rows.join(",\n  ")};`;
}

/** Runs SQL statements against a started Worker's local D1 (wrangler d1 execute --file). */
function seedInto(worker, statements) {
  const file = path.join(worker.persistTo, "bench-seed.sql");
  writeFileSync(file, statements.join("\n"));
  wranglerLocal(["d1", "execute", "DB", "--file", file, ...(worker.config ? ["--config", worker.config] : [])], worker.persistTo, `Seeding ${worker.name}`);
}

async function registerOrg(worker, label) {
  const email = `bench-${label}-${Date.now()}@example.com`;
  const session = await api(worker, "POST", "/api/auth/register", {
    body: { email, password: PASSWORD, firstName: "Bench", lastName: label, organizationName: `Bench ${label}` },
  });
  const me = await api(worker, "GET", "/api/users/me", { token: session.accessToken });
  return { email, token: session.accessToken, userId: me.id, organizationId: claimsOf(session.accessToken).org };
}

const claimsOf = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString("utf8"));

/** The Worker as `wrangler deploy` would upload it: raw and gzip bytes of the bundle (no source maps). */
function measureBundle() {
  const outdir = mkdtempSync(path.join(os.tmpdir(), "edgeboard-bundle-"));
  try {
    const run = spawnSync("npx", ["wrangler", "deploy", "--dry-run", "--outdir", outdir], {
      cwd: ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" },
      encoding: "utf8",
    });
    if (run.status !== 0) throw new Error(`wrangler deploy --dry-run failed:\n${run.stdout}\n${run.stderr}`);
    let raw = 0;
    let gzip = 0;
    for (const file of readdirSync(outdir)) {
      if (!/\.(m?js|wasm)$/.test(file)) continue;
      const bytes = readFileSync(path.join(outdir, file));
      raw += statSync(path.join(outdir, file)).size;
      gzip += gzipSync(bytes).length;
    }
    return { raw, gzip };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** Registers the organizations of `labels` on `worker`, seeds their dashboards straight into D1. */
async function seedApi(worker, sizes) {
  const orgs = {};
  for (const label of Object.keys(sizes)) orgs[label] = await registerOrg(worker, label);
  const statements = [];
  Object.entries(sizes).forEach(([label, count], i) => {
    if (count > 0) statements.push(dashboardsSql(i + 1, orgs[label], label === "10k" ? count - 1 : count));
  });
  if (orgs["10k"]) statements.push(widgetDashboardSql(orgs["10k"]));
  // Rows written straight into D1 bypass the service that keeps each organization's count.
  statements.push("UPDATE organizations SET dashboard_count = (SELECT count(*) FROM dashboards WHERE organization_id = organizations.id);");
  seedInto(worker, statements);
  return orgs;
}

/** Throws unless the seeded data reads back as it should (totals, widgets, the baseline's page). */
async function checkSeed(worker, orgs) {
  for (const [label, total] of [["10k", 10_000], ["1k", 1_000], ["100k", 100_000]]) {
    if (!orgs[label]) continue;
    const listed = await api(worker, "GET", "/api/dashboards", { token: orgs[label].token });
    if (listed.meta.total !== total || listed.data.length !== 20) throw new Error(`${worker.name} ${label}: ${JSON.stringify(listed.meta)}`);
  }
  const detail = await api(worker, "GET", `/api/dashboards/${WIDGET_DASHBOARD_ID}`, { token: orgs["10k"].token });
  if (detail.widgets.length !== 10) throw new Error(`${worker.name} get-one: ${detail.widgets.length} widgets`);
}

export default {
  name: "api",
  title: "API hot paths vs a raw D1 read (10,000 dashboards), scale 1,000 vs 100,000, bundle size",
  target:
    `list ≥ ${LIST_TARGET} × baseline and get-one ≥ ${GET_TARGET} × baseline (req/s, rate limiter on); ` +
    `list p50 with 100,000 dashboards ≤ ${SCALE_TARGET} × with 1,000`,

  async run({ seconds, rounds, connections, log }) {
    const bundle = measureBundle();
    log(`bundle: ${(bundle.raw / 1024).toFixed(1)} KiB raw, ${(bundle.gzip / 1024).toFixed(1)} KiB gzip`);

    const workers = [];
    const sides = [];
    try {
      const on = await startWorker("api", RATE_LIMITS_HIGH);
      workers.push(on);
      const off = await startWorker("api-limiter-off", RATE_LIMITS_OFF);
      workers.push(off);
      const baseline = await startWorker("api-baseline", {}, { config: "bench/baseline/wrangler.toml" });
      workers.push(baseline);

      const started = Date.now();
      const orgs = await seedApi(on, { "10k": 10_000, "1k": 1_000, "100k": 100_000, writes: 0 });
      const offOrgs = await seedApi(off, { "10k": 10_000 });
      // The baseline's database has no users: the organization and the same 10,000 dashboards.
      seedInto(baseline, [
        `INSERT INTO organizations (id, name, created_at, updated_at) VALUES (${sqlText(orgs["10k"].organizationId)}, 'Bench', '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z');`,
        dashboardsSql(1, orgs["10k"], 9_999),
        widgetDashboardSql(orgs["10k"]),
      ]);
      log(`seeded 121,000 dashboards (and the baseline's 10,000) in ${((Date.now() - started) / 1000).toFixed(1)} s`);

      // Every side's request must answer what it should before it is measured.
      await checkSeed(on, orgs);
      await checkSeed(off, offOrgs);
      const floor = await (await fetch(`${baseline.url}/?org=${orgs["10k"].organizationId}`)).json();
      if (floor.data.length !== 20) throw new Error(`baseline: ${floor.data.length} rows`);

      const auth = (org) => ({ authorization: `Bearer ${org.token}` });
      const json = { "content-type": "application/json" };
      const getOne = `/api/dashboards/${WIDGET_DASHBOARD_ID}`;
      sides.push(
        { label: "D1 baseline (raw SELECT … LIMIT 20)", key: "baseline", worker: baseline, path: `/?org=${orgs["10k"].organizationId}`, expect: 200 },
        { label: "GET /api/health", key: "health", worker: on, path: "/api/health", expect: 200 },
        { label: "GET /api/dashboards (10,000)", key: "list", worker: on, path: "/api/dashboards", headers: auth(orgs["10k"]), expect: 200 },
        { label: "GET /api/dashboards/:id (10 widgets)", key: "get", worker: on, path: getOne, headers: auth(orgs["10k"]), expect: 200 },
        {
          label: "POST /api/dashboards",
          key: "create",
          worker: on,
          method: "POST",
          path: "/api/dashboards",
          headers: { ...auth(orgs.writes), ...json },
          body: JSON.stringify({ name: "Benchmark dashboard", description: "Created by the load generator" }),
          expect: 201,
        },
        {
          label: "POST /api/auth/login",
          key: "login",
          worker: on,
          method: "POST",
          path: "/api/auth/login",
          headers: json,
          body: JSON.stringify({ email: orgs["10k"].email, password: PASSWORD }),
          expect: 200,
        },
        { label: "GET /api/dashboards (1,000)", key: "list1k", worker: on, path: "/api/dashboards", headers: auth(orgs["1k"]), expect: 200 },
        { label: "GET /api/dashboards (100,000)", key: "list100k", worker: on, path: "/api/dashboards", headers: auth(orgs["100k"]), expect: 200 },
        { label: "GET /api/dashboards (10,000), limiter off", key: "listOff", worker: off, path: "/api/dashboards", headers: auth(offOrgs["10k"]), expect: 200 },
        { label: "GET /api/dashboards/:id, limiter off", key: "getOff", worker: off, path: getOne, headers: auth(offOrgs["10k"]), expect: 200 },
      );
      for (const side of sides) side.rounds = [];

      const run = (side, secs) =>
        load(side.worker, { path: side.path, method: side.method, headers: side.headers, body: side.body, seconds: secs, connections });
      // Warm-up (JIT, D1 page cache, Durable Object start): 2 s per side, not measured.
      for (const side of sides) await run(side, 2);
      await calibrateIdleCpu(workers);
      log(`idle CPU (ms/s): ${workers.map((w) => `${w.name} ${w.idleCpuMsPerSecond.toFixed(0)}`).join(", ")}`);
      for (let round = 0; round < rounds; round++) {
        for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
          log(`round ${round + 1}/${rounds}: ${side.label} for ${seconds / rounds} s`);
          side.rounds.push(await run(side, seconds / rounds));
        }
      }
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
    }

    const results = Object.fromEntries(sides.map((s) => [s.key, { label: s.label, expect: s.expect, ...summarize(s.rounds) }]));
    for (const side of sides) {
      const r = results[side.key];
      const bad = Object.keys(r.statuses).filter((code) => Number(code) !== r.expect);
      if (bad.length > 0 || r.errors > 0) {
        throw new Error(
          `${r.label}: expected only ${r.expect}s, got ${JSON.stringify(r.statuses)} and ${r.errors} errors. ` +
            `The Worker's output ends:\n${side.worker.output().slice(-3000)}`,
        );
      }
    }

    const floorRps = results.baseline.rps;
    const floorCpu = results.baseline.cpuPerRequest;
    const ratio = (key) => results[key].rps / floorRps;
    const scaleRatio = results.list100k.p50 / results.list1k.p50;
    const met = (ok) => (ok ? "met" : "**NOT met**");
    const targetOf = {
      list: `≥ ${LIST_TARGET} × (${met(ratio("list") >= LIST_TARGET)})`,
      get: `≥ ${GET_TARGET} × (${met(ratio("get") >= GET_TARGET)})`,
      list100k: `p50 ≤ ${SCALE_TARGET} × the 1,000 row's (${fmt(scaleRatio, 2)} ×: ${met(scaleRatio <= SCALE_TARGET)})`,
      listOff: `(≥ ${LIST_TARGET} × would be ${met(ratio("listOff") >= LIST_TARGET)})`,
      getOff: `(≥ ${GET_TARGET} × would be ${met(ratio("getOff") >= GET_TARGET)})`,
    };
    const table = [
      "| Case | Requests | req/s | p50 (ms) | p99 (ms) | × baseline (req/s) | Target | CPU/request (ms) | × baseline (CPU) |",
      "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
      ...Object.entries(results).map(
        ([key, r]) =>
          `| ${r.label} | ${r.requests} | ${fmt(r.rps, 0)} | ${fmt(r.p50, 0)} | ${fmt(r.p99, 0)} | ${fmt(r.rps / floorRps, 2)} | ${targetOf[key] ?? ""} | ` +
          `${fmt(r.cpuPerRequest, 2)} | ${fmt(floorCpu / r.cpuPerRequest, 2)} |`,
      ),
      `| Worker bundle (\`wrangler deploy --dry-run\`) | | ${fmt(bundle.raw / 1024, 0)} KiB raw | ${fmt(bundle.gzip / 1024, 0)} KiB gzip | | | | | |`,
    ].join("\n");
    const verdict = [
      "Rate limiter ON for every row but the two marked off (every policy at 1,000,000,000/60: the Durable Object is " +
        "called on every request and refuses none). CPU/request: user + system time of the Worker's own processes " +
        "(wrangler, its two workerd) per request, less what they use idle, which other load on the machine moves far less than req/s; " +
        "× baseline (CPU) is the baseline's CPU/request over the case's.",
      `list/baseline ${fmt(ratio("list"), 2)} (target ≥ ${LIST_TARGET}: ${met(ratio("list") >= LIST_TARGET)}; limiter off ${fmt(ratio("listOff"), 2)}); ` +
        `get-one/baseline ${fmt(ratio("get"), 2)} (target ≥ ${GET_TARGET}: ${met(ratio("get") >= GET_TARGET)}; limiter off ${fmt(ratio("getOff"), 2)}); ` +
        `list p50 100,000 / 1,000 ${fmt(scaleRatio, 2)} (target ≤ ${SCALE_TARGET}: ${met(scaleRatio <= SCALE_TARGET)}).`,
    ].join("\n\n");
    return { table, verdict };
  },
};
