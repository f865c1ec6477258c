#!/usr/bin/env node
// `npm run docs:check`: the API reference page in a real browser. Starts the Worker under
// wrangler's dev server on 127.0.0.1:8799 (DOCS_CHECK_PORT moves it) with fresh local state,
// opens /api/docs in Debian's headless Chromium, waits for swagger-ui to render, and checks
// that it lists every operation and webhook of /api/openapi.json (each operationId and path
// shown), with no script error and no Content-Security-Policy violation. Saves a screenshot and
// prints its path. Exits non-zero on any failure; always stops the Worker and the browser.
//
// The dev server is wrangler's own (the `wrangler dev` engine, through its startWorker API) so
// the inspector can be turned off: the check listens on its one port and no other.
import { mkdtempSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { unstable_startWorker } from "wrangler";
import { buildDocsAssets } from "./build-docs-assets.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const HOST = "127.0.0.1";
const PORT = Number(process.env.DOCS_CHECK_PORT ?? 8799);
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const RENDER_TIMEOUT_MS = 60_000;

process.env.WRANGLER_SEND_METRICS = "false";
// Miniflare would fetch a Request.cf sample from Cloudflare: loopback only, use its placeholder.
process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";

const started = Date.now();
const step = (what) => console.error(`docs:check: [${((Date.now() - started) / 1000).toFixed(1)} s] ${what}`);

/** Waits for a shutdown step, but not forever (the process exit then ends what is left). */
async function withDeadline(promise, what, ms = 15_000) {
  let timer;
  const late = new Promise((resolve) => (timer = setTimeout(() => resolve("late"), ms)));
  const outcome = await Promise.race([Promise.resolve(promise).then(() => "done", () => "failed"), late]);
  clearTimeout(timer);
  if (outcome !== "done") step(`${what}: ${outcome}`);
}

function fail(message) {
  throw Object.assign(new Error(message), { checkFailure: true });
}

async function startWorker(stateDir) {
  const secret = (value) => ({ type: "plain_text", value });
  const worker = await unstable_startWorker({
    config: path.join(ROOT, "wrangler.toml"),
    envFiles: [],
    // Throwaway secrets: the page needs none, but the Worker refuses to serve without them.
    bindings: {
      JWT_SECRET: secret(randomBytes(32).toString("hex")),
      ENCRYPTION_KEY: secret(randomBytes(32).toString("base64")),
    },
    sendMetrics: false,
    // What `wrangler dev` derives from compatibility_flags = ["nodejs_compat"] (this API leaves it to the caller).
    build: { nodejsCompatMode: "v2" },
    dev: {
      server: { hostname: HOST, port: PORT },
      inspector: false,
      persist: stateDir,
      watch: false,
      logLevel: "warn",
    },
  });
  await worker.ready;
  return worker;
}

async function main() {
  buildDocsAssets();
  const stateDir = mkdtempSync(path.join(os.tmpdir(), "edgeboard-docs-check-"));
  const screenshot = path.join(os.tmpdir(), `edgeboard-docs-${Date.now()}.png`);
  const base = `http://${HOST}:${PORT}`;
  let worker;
  let browser;
  try {
    step(`starting the Worker on ${base}`);
    worker = await startWorker(stateDir);
    const res = await fetch(`${base}/api/openapi.json`);
    if (!res.ok) fail(`GET /api/openapi.json answered ${res.status}`);
    const document = await res.json();
    const operations = [
      ...Object.entries(document.paths).flatMap(([p, item]) => Object.entries(item).map(([method, op]) => ({ method, path: p, id: op.operationId }))),
      ...Object.entries(document.webhooks).flatMap(([event, item]) => Object.entries(item).map(([method, op]) => ({ method, path: event, id: op.operationId }))),
    ];

    step(`opening ${base}/api/docs in ${CHROMIUM}`);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    // A fresh, empty profile per run (a new context is one).
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems = [];
    page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
    page.on("console", (msg) => {
      if (msg.type() === "error") problems.push(`console error: ${msg.text()}`);
    });
    // Nothing may leave the origin (the page's CSP forbids it; this proves no attempt is made).
    page.on("request", (request) => {
      if (!request.url().startsWith(base) && !request.url().startsWith("data:")) problems.push(`request to another origin: ${request.url()}`);
    });
    await page.addInitScript(() => {
      document.addEventListener("securitypolicyviolation", (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));
    });

    const response = await page.goto(`${base}/api/docs`, { waitUntil: "load" });
    if (response?.status() !== 200) fail(`GET /api/docs answered ${response?.status()}`);
    await page.waitForFunction((n) => document.querySelectorAll(".opblock").length >= n, operations.length, { timeout: RENDER_TIMEOUT_MS });
    // Let the page settle (late errors, the last sections).
    await page.waitForTimeout(500);

    const rendered = await page.$$eval(".opblock", (blocks) =>
      blocks.map((b) => ({
        method: b.querySelector(".opblock-summary-method")?.textContent?.trim().toLowerCase() ?? "",
        path: b.querySelector(".opblock-summary-path")?.getAttribute("data-path") ?? b.querySelector(".opblock-summary-path")?.textContent?.trim() ?? "",
        id: b.querySelector(".opblock-summary-operation-id")?.textContent?.trim() ?? "",
      })),
    );
    const title = await page.$eval(".info .title", (el) => el.textContent ?? "");
    await page.screenshot({ path: screenshot, fullPage: true });

    // Open one operation and one webhook: swagger-ui resolves their $refs then and shows any it
    // cannot. (Every $ref of the document is checked by the validator and openapi-typescript in
    // test/node/openapi.test.ts; opening all 52 here takes minutes on a busy machine.)
    step("opening GET /api/dashboards/{id} and the dashboard.created webhook");
    for (const id of ["#operations-Dashboards-getDashboard", ".webhooks .opblock-post"]) {
      await page.locator(id).first().locator(".opblock-summary-control").click();
    }
    await page.waitForFunction(() => document.querySelectorAll(".opblock.is-open").length >= 2, null, { timeout: RENDER_TIMEOUT_MS });
    await page.locator("#operations-Dashboards-getDashboard .responses-table").first().waitFor({ timeout: RENDER_TIMEOUT_MS });
    await page.waitForTimeout(500);
    const resolverErrors = await page.$$eval(".errors-wrapper .error-wrapper, .errors-wrapper li", (els) => els.map((e) => e.textContent?.trim() ?? ""));
    for (const error of resolverErrors) problems.push(`swagger-ui: ${error}`);
    const detail = screenshot.replace(/\.png$/, "-get-dashboard.png");
    await page.locator("#operations-Dashboards-getDashboard").screenshot({ path: detail });

    const shown = new Set(rendered.map((r) => r.id));
    const missing = operations.filter((op) => !shown.has(op.id) || !rendered.some((r) => r.id === op.id && r.path.includes(op.path)));
    if (!title.includes(document.info.title)) problems.push(`title ${JSON.stringify(title)} lacks ${document.info.title}`);
    if (rendered.length !== operations.length) problems.push(`rendered ${rendered.length} operations, the document has ${operations.length}`);
    for (const op of missing) problems.push(`not rendered: ${op.method.toUpperCase()} ${op.path} (${op.id})`);

    console.log(`docs:check: ${rendered.length} operations rendered (${Object.keys(document.webhooks).length} of them webhooks) for ${operations.length} documented`);
    console.log(`docs:check: screenshots ${screenshot} (the page), ${detail} (one operation opened)`);
    if (problems.length) fail(problems.join("\n"));
    console.log("docs:check: ok");
  } finally {
    await withDeadline(browser?.close(), "closing the browser");
    await withDeadline(worker?.dispose(), "stopping the Worker");
    rmSync(stateDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`docs:check: FAILED\n${err.checkFailure ? err.message : err.stack}`);
    process.exit(1);
  },
);
