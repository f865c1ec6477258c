// Shared plumbing for bench cases: local Workers under `wrangler dev`, API calls, load runs.
// The load generator (autocannon, in this Node process) and the Worker (workerd, started
// by wrangler in its own process) never share a process.
import autocannon from "autocannon";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
// Local D1 and Durable Object state, one fresh directory per Worker (BENCH_STATE_DIR moves it).
const STATE_DIR = process.env.BENCH_STATE_DIR ?? path.join(ROOT, ".bench");
// The ports the benchmark may use; each Worker needs one for HTTP and one for its inspector.
// BENCH_PORTS=8804,8805 moves them (e.g. when another run holds these).
const PORTS = process.env.BENCH_PORTS ? process.env.BENCH_PORTS.split(",").map(Number) : [8790, 8791, 8792, 8793, 8794, 8795, 8796, 8797, 8798];
const HOST = "127.0.0.1";

/** Every rate-limit policy turned off: for cases that measure something else. */
export const RATE_LIMITS_OFF = Object.fromEntries(
  [
    "RATE_LIMIT_USER",
    "RATE_LIMIT_IP",
    "RATE_LIMIT_LOGIN_IP",
    "RATE_LIMIT_LOGIN_EMAIL",
    "RATE_LIMIT_REGISTER_IP",
    "RATE_LIMIT_PASSWORD_IP",
    "RATE_LIMIT_DATASOURCE_TEST_ORG",
  ].map((name) => [name, "0"]),
);

// CLOUDFLARE_CF_FETCH_ENABLED=false: Miniflare's default Request.cf placeholder instead of
// fetching cf.json from workers.cloudflare.com (local runs reach nothing outside the machine).
const childEnv = { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", CLOUDFLARE_CF_FETCH_ENABLED: "false" };
const running = new Set();

function portFree(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

const taken = new Set();
async function takePort(ports = PORTS) {
  for (const port of ports) {
    if (taken.has(port)) continue;
    if (await portFree(port)) {
      taken.add(port);
      return port;
    }
  }
  throw new Error(`No free port left in ${ports.join(", ")}`);
}

/** Random secrets for one benchmark run: nothing from .dev.vars or production is reused. */
export const secrets = {
  JWT_SECRET: randomBytes(32).toString("hex"),
  ENCRYPTION_KEY: randomBytes(32).toString("base64"),
};

/** Runs `wrangler <args> --local --persist-to <persistTo>` to completion; throws on failure. */
export function wranglerLocal(args, persistTo, what) {
  const run = spawnSync("npx", ["wrangler", ...args, "--local", "--persist-to", persistTo], {
    cwd: ROOT,
    env: childEnv,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (run.status !== 0) throw new Error(`${what} failed:\n${run.stdout}\n${run.stderr}`);
  return run.stdout;
}

/**
 * Starts the Worker with `wrangler dev` on a free benchmark port, against its own fresh
 * local state (D1 migrated from drizzle/), with `vars` overriding wrangler.toml [vars].
 * `sampleData`: also the built-in sample source's database (SAMPLE_DB), migrated and seeded
 * as `npm run dev` does (docs/widget-data.md). `ports` / `stateDir` move it off the benchmark's
 * (the soak test uses its own); `args` go to wrangler dev as well; `logLevel` is wrangler's.
 * `config`: another wrangler.toml (e.g. bench/baseline/wrangler.toml). Two Workers never share
 * one state directory: workerd's SQLite answers SQLITE_BUSY when two processes use one file.
 */
export async function startWorker(
  name,
  vars = {},
  { sampleData = false, ports = PORTS, stateDir = STATE_DIR, args: extraArgs = [], logLevel = "warn", config } = {},
) {
  const persistTo = path.join(stateDir, name);
  const configArgs = config ? ["--config", config] : [];
  const wrangler = (args, what) => wranglerLocal([...args, ...configArgs], persistTo, `${what} for ${name}`);
  rmSync(persistTo, { recursive: true, force: true });
  wrangler(["d1", "migrations", "apply", "DB"], "Migrating DB");
  if (sampleData) {
    const { buildSampleSeedSql } = await import("../scripts/sample-seed.mjs");
    wrangler(["d1", "migrations", "apply", "SAMPLE_DB"], "Migrating SAMPLE_DB");
    const seedFile = path.join(persistTo, "sample-seed.sql");
    writeFileSync(seedFile, buildSampleSeedSql());
    wrangler(["d1", "execute", "SAMPLE_DB", "--file", seedFile], "Seeding SAMPLE_DB");
  }

  const port = await takePort(ports);
  const inspectorPort = await takePort(ports);
  const args = ["wrangler", "dev", "--ip", HOST, "--port", String(port), "--inspector-port", String(inspectorPort)];
  args.push(...configArgs);
  args.push("--persist-to", persistTo, "--show-interactive-dev-session=false", "--log-level", logLevel, ...extraArgs);
  for (const [key, value] of Object.entries({ ...secrets, ...vars })) args.push("--var", `${key}:${value}`);
  // Its own process group, so stopping it also stops workerd.
  const child = spawn("npx", args, { cwd: ROOT, env: childEnv, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const worker = {
    name,
    url: `http://${HOST}:${port}`,
    pid: child.pid,
    persistTo,
    config,
    /** What wrangler and the Worker printed so far (at `logLevel`). */
    output: () => output,
    /** CPU time (ms) used so far by wrangler and workerd, the Worker's whole process group. */
    cpuMs: () => groupCpuMs(child.pid),
    async stop() {
      running.delete(worker);
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {}
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {}
      }, 5000);
      await exited;
      clearTimeout(timer);
      taken.delete(port);
      taken.delete(inspectorPort);
    },
  };
  running.add(worker);

  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev (${name}) exited early:\n${output}`);
    try {
      const res = await fetch(`${worker.url}/api/health`);
      if (res.ok) break;
    } catch {}
    if (Date.now() > deadline) {
      await worker.stop();
      throw new Error(`wrangler dev (${name}) did not become healthy in time:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return worker;
}

// Linux's clock ticks per second for /proc/<pid>/stat (USER_HZ, 100 on every common build).
const TICKS_PER_SECOND = 100;

/**
 * User + system CPU of every process in group `pgid`, from /proc (NaN where there is none):
 * unlike req/s, CPU per request hardly moves when other work shares the machine.
 */
function groupCpuMs(pgid) {
  let ticks = 0;
  let dirs;
  try {
    dirs = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  } catch {
    return NaN;
  }
  for (const pid of dirs) {
    let stat;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      continue; // gone meanwhile
    }
    // Fields after the parenthesised command name: state ppid pgrp … utime(14) stime(15).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[2]) === pgid) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return (ticks * 1000) / TICKS_PER_SECOND;
}

export async function stopAll() {
  await Promise.all([...running].map((w) => w.stop()));
}

/** One JSON API call; throws on an unexpected status. */
export async function api(worker, method, path, { token, body, expect = [200, 201, 204] } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const send = () => fetch(`${worker.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  // A kept-alive connection the server closed while idle (e.g. during a long seed) fails once.
  const res = await send().catch((err) => (err?.cause?.code === "UND_ERR_SOCKET" ? send() : Promise.reject(err)));
  const text = await res.text();
  if (!expect.includes(res.status)) throw new Error(`${method} ${path} on ${worker.name}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Registers a fresh organization and returns its admin's access token. */
export async function seedOrganization(worker) {
  const email = `bench-${Date.now()}-${randomBytes(4).toString("hex")}@example.com`;
  const session = await api(worker, "POST", "/api/auth/register", {
    body: { email, password: "benchmark password", firstName: "Bench", lastName: "Mark", organizationName: "Bench" },
  });
  return { email, token: session.accessToken };
}

/**
 * Drives `worker` with autocannon for `seconds` and returns every response's latency, so
 * several rounds of one side can be pooled before percentiles are taken.
 */
export async function load(worker, { path, method = "GET", headers = {}, body, seconds, connections = 10 }) {
  const cpuBefore = worker.cpuMs?.() ?? NaN;
  const latencies = [];
  const statuses = {};
  const instance = autocannon({
    url: `${worker.url}${path}`,
    method,
    headers,
    body,
    connections,
    duration: seconds,
  });
  instance.on("response", (_client, statusCode, _bytes, responseTime) => {
    latencies.push(responseTime);
    statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
  });
  const result = await instance;
  // Less what the Worker's processes burn while idle (timers, file watching), once measured.
  const cpuMs = (worker.cpuMs?.() ?? NaN) - cpuBefore - (worker.idleCpuMsPerSecond ?? 0) * result.duration;
  return { latencies, statuses, seconds: result.duration, errors: result.errors + result.timeouts, cpuMs };
}

/**
 * Measures each Worker's CPU use while idle (ms per second), so load() can leave it out of
 * CPU per request: `wrangler dev` burns a few percent of a core doing nothing.
 */
export async function calibrateIdleCpu(workers, seconds = 5) {
  const before = workers.map((w) => w.cpuMs());
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  workers.forEach((w, i) => (w.idleCpuMsPerSecond = Math.max(0, (w.cpuMs() - before[i]) / seconds)));
}

/** Pools rounds of one side into req/s and latency percentiles (ms). */
export function summarize(rounds) {
  const latencies = rounds.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const seconds = rounds.reduce((s, r) => s + r.seconds, 0);
  const statuses = {};
  for (const r of rounds) for (const [code, n] of Object.entries(r.statuses)) statuses[code] = (statuses[code] ?? 0) + n;
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)] ?? NaN;
  return {
    requests: latencies.length,
    rps: latencies.length / seconds,
    p50: pct(50),
    p99: pct(99),
    statuses,
    errors: rounds.reduce((s, r) => s + r.errors, 0),
    // The Worker's processes' CPU per request (ms), NaN off Linux.
    cpuPerRequest: rounds.reduce((s, r) => s + (r.cpuMs ?? NaN), 0) / latencies.length,
  };
}
