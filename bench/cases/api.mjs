// The API's hot paths against the floor of any D1 read. Two Workers under `wrangler dev`:
//  - the API (wrangler.toml), rate limiter ON with limits far too high to refuse, so every
//    request pays the Durable Object call it pays in production;
//  - bench/baseline/, a Worker that does nothing but one raw D1 `SELECT … LIMIT 20` of the
//    dashboards table: what any list read costs at least in this runtime. Its local D1 has the
//    same migrations and the same generated dashboards (one file per process: two workerd
//    processes on one SQLite file fail with SQLITE_BUSY).
// Seeded straight into D1 (generated SQL, not the API): an organization with 10,000 dashboards,
// one of them with 10 widgets, one with 1,000 and one with 100,000 (the scale check), and
// an empty one that takes the POSTs (so the others keep their sizes). Their admins are created
// with POST /api/auth/register, so login checks a real PBKDF2 hash.
// All sides run in alternating rounds (the order flips each round), so machine noise hits
// every side alike. `--limiter=off` measures the same with every rate-limit policy off.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { RATE_LIMITS_OFF, ROOT, api, load, startWorker, summarize, wranglerLocal } from "../harness.mjs";

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

export default {
  name: "api",
  title: "API hot paths vs a raw D1 read (10,000 dashboards), scale 1,000 vs 100,000, bundle size",
  target:
    `list ≥ ${LIST_TARGET} × baseline and get-one ≥ ${GET_TARGET} × baseline (req/s); ` +
    `list p50 with 100,000 dashboards ≤ ${SCALE_TARGET} × with 1,000`,

  async run({ seconds, rounds, connections, log, flags = {} }) {
    const limiterOn = flags.limiter !== "off";
    const bundle = measureBundle();
    log(`bundle: ${(bundle.raw / 1024).toFixed(1)} KiB raw, ${(bundle.gzip / 1024).toFixed(1)} KiB gzip`);

    const worker = await startWorker("api", limiterOn ? RATE_LIMITS_HIGH : RATE_LIMITS_OFF);
    let baseline;
    const sides = [];
    try {
      baseline = await startWorker("api-baseline", {}, { config: "bench/baseline/wrangler.toml" });
      const main = await registerOrg(worker, "10k");
      const small = await registerOrg(worker, "1k");
      const large = await registerOrg(worker, "100k");
      const writes = await registerOrg(worker, "writes");

      const seed = [
        dashboardsSql(1, main, 9_999),
        widgetDashboardSql(main),
        dashboardsSql(2, small, 1_000),
        dashboardsSql(3, large, 100_000),
        // Rows written straight into D1 bypass the service that keeps each organization's count.
        "UPDATE organizations SET dashboard_count = (SELECT count(*) FROM dashboards WHERE organization_id = organizations.id);",
      ];
      const started = Date.now();
      seedInto(worker, seed);
      // The baseline's database has no users: only the organizations the dashboards belong to.
      const organizations = [main, small, large].map(
        (org) => `INSERT INTO organizations (id, name, created_at, updated_at) VALUES (${sqlText(org.organizationId)}, 'Bench', '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z');`,
      );
      seedInto(baseline, [...organizations, seed[0]]);
      log(`seeded 111,000 dashboards and 10 widgets (and the baseline's 9,999) in ${((Date.now() - started) / 1000).toFixed(1)} s`);

      // Every side's request must answer what it should before it is measured.
      const listed = await api(worker, "GET", "/api/dashboards", { token: main.token });
      if (listed.meta.total !== 10_000 || listed.data.length !== 20) throw new Error(`list: unexpected ${JSON.stringify(listed.meta)}`);
      const small1k = await api(worker, "GET", "/api/dashboards", { token: small.token });
      const large100k = await api(worker, "GET", "/api/dashboards", { token: large.token });
      if (small1k.meta.total !== 1_000 || large100k.meta.total !== 100_000) {
        throw new Error(`scale: totals ${small1k.meta.total} and ${large100k.meta.total}`);
      }
      const detail = await api(worker, "GET", `/api/dashboards/${WIDGET_DASHBOARD_ID}`, { token: main.token });
      if (detail.widgets.length !== 10) throw new Error(`get-one: ${detail.widgets.length} widgets`);
      const floor = await (await fetch(`${baseline.url}/?org=${main.organizationId}`)).json();
      if (floor.data.length !== 20) throw new Error(`baseline: ${floor.data.length} rows`);

      const auth = (org) => ({ authorization: `Bearer ${org.token}` });
      const json = { "content-type": "application/json" };
      sides.push(
        { label: "D1 baseline (raw SELECT … LIMIT 20)", key: "baseline", worker: baseline, path: `/?org=${main.organizationId}`, expect: 200 },
        { label: "GET /api/health", key: "health", worker, path: "/api/health", expect: 200 },
        { label: "GET /api/dashboards (10,000)", key: "list", worker, path: "/api/dashboards", headers: auth(main), expect: 200 },
        { label: `GET /api/dashboards/:id (10 widgets)`, key: "get", worker, path: `/api/dashboards/${WIDGET_DASHBOARD_ID}`, headers: auth(main), expect: 200 },
        {
          label: "POST /api/dashboards",
          key: "create",
          worker,
          method: "POST",
          path: "/api/dashboards",
          headers: { ...auth(writes), ...json },
          body: JSON.stringify({ name: "Benchmark dashboard", description: "Created by the load generator" }),
          expect: 201,
        },
        {
          label: "POST /api/auth/login",
          key: "login",
          worker,
          method: "POST",
          path: "/api/auth/login",
          headers: json,
          body: JSON.stringify({ email: main.email, password: PASSWORD }),
          expect: 200,
        },
        { label: "GET /api/dashboards (1,000)", key: "list1k", worker, path: "/api/dashboards", headers: auth(small), expect: 200 },
        { label: "GET /api/dashboards (100,000)", key: "list100k", worker, path: "/api/dashboards", headers: auth(large), expect: 200 },
      );
      for (const side of sides) side.rounds = [];

      const run = (side, secs) =>
        load(side.worker, { path: side.path, method: side.method, headers: side.headers, body: side.body, seconds: secs, connections });
      // Warm-up (JIT, D1 page cache, Durable Object start): 2 s per side, not measured.
      for (const side of sides) await run(side, 2);
      for (let round = 0; round < rounds; round++) {
        for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
          log(`round ${round + 1}/${rounds}: ${side.label} for ${seconds / rounds} s`);
          side.rounds.push(await run(side, seconds / rounds));
        }
      }
    } finally {
      await Promise.all([worker.stop(), baseline?.stop()]);
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
    const listRatio = results.list.rps / floorRps;
    const getRatio = results.get.rps / floorRps;
    const scaleRatio = results.list100k.p50 / results.list1k.p50;
    const met = (ok) => (ok ? "met" : "**NOT met**");
    const targetOf = {
      list: `≥ ${LIST_TARGET} × (${met(listRatio >= LIST_TARGET)})`,
      get: `≥ ${GET_TARGET} × (${met(getRatio >= GET_TARGET)})`,
      list100k: `p50 ≤ ${SCALE_TARGET} × the 1,000 row's (${fmt(scaleRatio, 2)} ×: ${met(scaleRatio <= SCALE_TARGET)})`,
    };
    const table = [
      "| Case | Requests | req/s | p50 (ms) | p99 (ms) | × baseline (req/s) | Target |",
      "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
      ...Object.entries(results).map(
        ([key, r]) =>
          `| ${r.label} | ${r.requests} | ${fmt(r.rps, 0)} | ${fmt(r.p50, 0)} | ${fmt(r.p99, 0)} | ${fmt(r.rps / floorRps, 2)} | ${targetOf[key] ?? ""} |`,
      ),
      `| Worker bundle (\`wrangler deploy --dry-run\`) | | ${fmt(bundle.raw / 1024, 0)} KiB raw | ${fmt(bundle.gzip / 1024, 0)} KiB gzip | | | |`,
    ].join("\n");
    const verdict = [
      `Rate limiter ${limiterOn ? "ON (every policy at 1,000,000,000/60: the Durable Object is called on every request, none is refused)" : "OFF (every policy 0)"}.`,
      `list/baseline ${fmt(listRatio, 2)} (target ≥ ${LIST_TARGET}: ${met(listRatio >= LIST_TARGET)}); ` +
        `get-one/baseline ${fmt(getRatio, 2)} (target ≥ ${GET_TARGET}: ${met(getRatio >= GET_TARGET)}); ` +
        `list p50 100,000 / 1,000 ${fmt(scaleRatio, 2)} (target ≤ ${SCALE_TARGET}: ${met(scaleRatio <= SCALE_TARGET)}).`,
    ].join("\n\n");
    return { table, verdict };
  },
};
