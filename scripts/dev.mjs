#!/usr/bin/env node
// `npm run dev`: everything a newcomer needs, then `wrangler dev` on http://localhost:8787.
//  1. .dev.vars with fresh random secrets if it is missing
//  2. the drizzle/ migrations applied to the local D1
//  3. the demo data seeded (idempotent)
//  4. the sample data source's database (SAMPLE_DB): its migrations, then its deterministic rows
//     (the seed empties and refills its tables, so a re-run restores them exactly)
//  5. wrangler dev, with the development flag that lets data sources/webhooks reach 127.0.0.1,
//     and --test-scheduled so GET /__scheduled runs the webhook sweeper on demand
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { ensureDevVars } from "./lib/dev-vars.mjs";
import { buildSampleSeedSql } from "./sample-seed.mjs";
import { buildSeedSql, DEMO_USERS } from "./seed.mjs";

const port = process.env.PORT ?? "8787";
// `npm run dev -- --var NAME:value …`: extra arguments go to wrangler dev.
const extraArgs = process.argv.slice(2);
// CLOUDFLARE_CF_FETCH_ENABLED=false: no fetch of a sample Request.cf from workers.cloudflare.com.
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", CI: process.env.CI ?? "true" };

// The seed steps print every statement's result; keep their errors, drop the rest.
const QUIET = { stdio: ["inherit", "ignore", "inherit"] };

function wrangler(args, options = {}) {
  const result = spawnSync("npx", ["wrangler", ...args], { stdio: "inherit", env, ...options });
  if (result.status !== 0) {
    console.error(`wrangler ${args.join(" ")} failed`);
    process.exit(result.status ?? 1);
  }
}

const vars = ensureDevVars();
wrangler(["d1", "migrations", "apply", "DB", "--local"]);
mkdirSync(".wrangler", { recursive: true });
writeFileSync(".wrangler/seed.sql", await buildSeedSql(vars));
wrangler(["d1", "execute", "DB", "--local", "--file", ".wrangler/seed.sql"], QUIET);
wrangler(["d1", "migrations", "apply", "SAMPLE_DB", "--local"]);
writeFileSync(".wrangler/sample-seed.sql", buildSampleSeedSql());
wrangler(["d1", "execute", "SAMPLE_DB", "--local", "--file", ".wrangler/sample-seed.sql"], QUIET);

console.log("\nDemo logins (local only):");
for (const u of DEMO_USERS) console.log(`  ${u.role.padEnd(6)} ${u.email} / ${u.password}`);
console.log("");

const child = spawn("npx", ["wrangler", "dev", "--port", port, "--ip", "127.0.0.1", "--test-scheduled", "--var", "ALLOW_PRIVATE_NETWORK_TARGETS:true", ...extraArgs], {
  stdio: "inherit",
  env,
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code) => process.exit(code ?? 0));
