#!/usr/bin/env node
// npm run bench [-- <case names…>] [--seconds=10] [--rounds=6] [--connections=10]
//
// Runs each case in bench/cases/*.mjs (or only the named ones) against local Workers started
// with `wrangler dev`, prints a markdown table and writes it to bench/results.md.
// A case module is one of:
//  - default { name, title, target, run(options) → { rows, verdict } }, each row being
//    { label, requests, rps, p50, p99 } (latency in ms); the case starts its own Workers.
//    A case may return its own markdown `table` instead of `rows`.
//  - default run({ baseUrl, log }) → result object, with named exports `name`, `description`
//    and `workerVars`: this script starts one Worker with those vars (rate limits off, since
//    such a case measures something else) and prints the result as a table.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { RATE_LIMITS_OFF, ROOT, startWorker, stopAll } from "./harness.mjs";

const flags = Object.fromEntries(
  process.argv.slice(2).filter((a) => a.startsWith("--")).map((a) => a.slice(2).split("=")),
);
const only = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const options = {
  // Measured seconds per side (split over the rounds), warm-up excluded.
  seconds: Number(flags.seconds ?? 10),
  rounds: Number(flags.rounds ?? 6),
  connections: Number(flags.connections ?? 10),
  // Every --name=value flag, for the cases' own switches (e.g. --limiter=off for api).
  flags,
  log: (line) => console.error(`  ${line}`),
};

const fmt = (n, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "–");

/** A result object as a two-column table, nested fields dotted. */
function resultTable(result) {
  const rows = [];
  const walk = (value, key) => {
    if (value !== null && typeof value === "object") for (const [k, v] of Object.entries(value)) walk(v, key ? `${key}.${k}` : k);
    else rows.push(`| ${key} | ${value} |`);
  };
  walk(result, "");
  return ["| Measure | Value |", "| --- | ---: |", ...rows].join("\n");
}

/** Both case shapes as { name, title, target, run(options) → { table, verdict } }. */
function normalize(mod) {
  if (typeof mod.default === "function") {
    return {
      name: mod.name,
      title: mod.description ?? mod.name,
      target: mod.target,
      async run(options) {
        const worker = await startWorker(mod.name, { ...RATE_LIMITS_OFF, ...mod.workerVars });
        try {
          const result = await mod.default({ baseUrl: worker.url, log: options.log });
          return { table: resultTable(result), verdict: "Rate limits off for this case." };
        } finally {
          await worker.stop();
        }
      },
    };
  }
  const c = mod.default;
  return {
    ...c,
    async run(options) {
      const { rows, verdict, table: own } = await c.run(options);
      if (own) return { table: own, verdict };
      const table = [
        "| Side | Requests | req/s | p50 (ms) | p99 (ms) |",
        "| --- | ---: | ---: | ---: | ---: |",
        ...rows.map((r) => `| ${r.label} | ${r.requests} | ${fmt(r.rps, 0)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} |`),
      ].join("\n");
      return { table, verdict };
    },
  };
}

const casesDir = path.join(ROOT, "bench", "cases");
const cases = [];
for (const file of readdirSync(casesDir).filter((f) => f.endsWith(".mjs")).sort()) {
  const c = normalize(await import(pathToFileURL(path.join(casesDir, file)).href));
  if (only.length === 0 || only.includes(c.name)) cases.push(c);
}
if (cases.length === 0) {
  console.error(`No bench case matches ${only.join(", ")}`);
  process.exit(1);
}

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, async () => {
    await stopAll();
    process.exit(130);
  });
}

const cpus = os.cpus();
const machine = `${cpus.length} × ${cpus[0]?.model ?? "unknown CPU"}, Node ${process.version}, ${os.platform()} ${os.release()}`;
const load = os.loadavg().map((n) => n.toFixed(1)).join(" ");

// The sections of results.md as they stand: a run of some cases keeps the others' results.
const resultsFile = path.join(ROOT, "bench", "results.md");
const sections = new Map();
if (existsSync(resultsFile)) {
  for (const part of readFileSync(resultsFile, "utf8").split(/^(?=## )/m).slice(1)) {
    sections.set(/^## ([^:]+):/.exec(part)?.[1] ?? part, part.trimEnd() + "\n");
  }
}

// README.md shows a case's latest table between <!-- bench:NAME --> and <!-- /bench:NAME -->.
const readmeTables = new Map();
let failed = false;
for (const c of cases) {
  console.error(`${c.name}: ${c.title}`);
  const started = new Date().toISOString();
  const how =
    `_Run ${started} on ${machine}; load average before it ${load}. Load cases: autocannon with ${options.connections} ` +
    `connections, ${options.seconds} s measured per side in ${options.rounds} alternating rounds after a 2 s warm-up._\n\n`;
  try {
    const { table, verdict } = await c.run(options);
    const target = c.target ? `Target: ${c.target}.\n\n` : "";
    sections.set(c.name, `## ${c.name}: ${c.title}\n\n${how}${target}${table}\n\n${verdict}\n`);
    readmeTables.set(c.name, `${how}${table}\n`);
  } catch (err) {
    failed = true;
    console.error(err);
    sections.set(c.name, `## ${c.name}: ${c.title}\n\n${how}FAILED: ${err.message}\n`);
  }
}
await stopAll();

const header = [
  "# Benchmark results",
  "",
  "Written by `npm run bench` (a run of some cases, `npm run bench -- <case>`, replaces only their sections). " +
    "Local `wrangler dev` (workerd) on loopback, the load generator in its own process. Numbers from one shared " +
    "development machine: compare the rows of one section, not absolutes.",
  "",
].join("\n");
const markdown = `${header}\n${[...sections].sort(([a], [b]) => a.localeCompare(b)).map(([, text]) => text).join("\n")}`;
writeFileSync(resultsFile, markdown);
const readmeFile = path.join(ROOT, "README.md");
let readme = readFileSync(readmeFile, "utf8");
for (const [name, table] of readmeTables) {
  const block = new RegExp(`(<!-- bench:${name} -->\\n)[\\s\\S]*?(<!-- /bench:${name} -->)`);
  readme = readme.replace(block, (_, open, close) => `${open}${table}${close}`);
}
writeFileSync(readmeFile, readme);
console.log(markdown);
process.exit(failed ? 1 : 0);
