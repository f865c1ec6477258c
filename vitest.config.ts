import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig, defineProject } from "vitest/config";
// @ts-expect-error a plain .mjs script (the one `npm run dev` uses), no type declarations
import { buildSampleSeedStatements } from "./scripts/sample-seed.mjs";
// @ts-expect-error a plain .mjs script (the one npm run dev/deploy use), no type declarations
import { buildDocsAssets } from "./scripts/build-docs-assets.mjs";

// The reference page's files (swagger-ui from node_modules + docs-page/) must exist before the
// plugin reads wrangler.toml's [assets] directory.
buildDocsAssets();

// Two projects. "workers": the API's tests, inside workerd with the bindings from wrangler.toml
// (real D1, Durable Objects, Queues, static assets); the same drizzle/ migrations wrangler applies
// are applied by test/setup.ts. "node": tooling that cannot run in workerd (the OpenAPI
// validator and openapi-typescript, ajv and the TypeScript compiler underneath), on the document
// built from src/openapi/document.ts.
const workers = defineProject({
  plugins: [
    cloudflareTest(async () => ({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          // Test-only secrets; production values come from `wrangler secret put`.
          JWT_SECRET: "test-jwt-secret-0123456789abcdef0123456789abcdef",
          ENCRYPTION_KEY: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
          ALLOW_PRIVATE_NETWORK_TARGETS: "true",
          // One browser origin allowed, so CORS tests can see both an allowed and a refused one.
          CORS_ORIGINS: "https://app.example.com",
          // Webhook retries in seconds and a short attempt timeout, so retries, timeouts and
          // exhaustion happen within a test (4 attempts in all).
          WEBHOOK_RETRY_SCHEDULE: "1,2,3",
          WEBHOOK_TIMEOUT_MS: "1000",
          // Every test request comes without CF-Connecting-IP, so all of them share one IP
          // bucket: keep the limiter on but out of the way. test/rate-limit*.test.ts set
          // tight limits per test; the test clock lets them move time instead of sleeping.
          RATE_LIMIT_USER: "1000000/60",
          RATE_LIMIT_IP: "1000000/60",
          RATE_LIMIT_LOGIN_IP: "1000000/60",
          RATE_LIMIT_LOGIN_EMAIL: "1000000/60",
          RATE_LIMIT_REGISTER_IP: "1000000/60",
          RATE_LIMIT_PASSWORD_IP: "1000000/60",
          RATE_LIMIT_DATASOURCE_TEST_ORG: "1000000/60",
          RATE_LIMIT_TEST_CLOCK: "true",
          TEST_MIGRATIONS: await readD1Migrations("./drizzle"),
          // The sample data source: its own migrations and the same generated seed as npm run dev.
          SAMPLE_MIGRATIONS: await readD1Migrations("./sample-db/migrations"),
          SAMPLE_SEED: buildSampleSeedStatements() as string[],
          // Property-based API fuzz (test/fuzz-*.test.ts): a fixed seed unless overridden, the
          // number of generated route cases per run, and a single route + fast-check path to replay.
          FUZZ_SEED: process.env.FUZZ_SEED ?? "",
          FUZZ_RUNS: process.env.FUZZ_RUNS ?? "",
          FUZZ_ROUTE: process.env.FUZZ_ROUTE ?? "",
          FUZZ_PATH: process.env.FUZZ_PATH ?? "",
        },
      },
    })),
  ],
  test: {
    name: "workers",
    include: ["test/**/*.test.ts"],
    exclude: ["test/node/**"],
    setupFiles: ["./test/setup.ts"],
    // Node-side helpers, started before the workers: a hung server and a closed port for the
    // data-source connection tests, and the real HTTP receiver webhook tests deliver to.
    globalSetup: ["./test/global-setup.ts", "./test/receiver/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});

const node = defineProject({
  test: {
    name: "node",
    include: ["test/node/**/*.test.ts"],
    environment: "node",
    testTimeout: 60_000,
  },
});

export default defineConfig({
  test: {
    projects: [workers, node],
    // Every request writes a JSON access-log line: keep those out of the output (tests that need
    // them spy on the console), and keep the suites' own summary lines (figures, replay seeds).
    onConsoleLog: (log) => (log.trimStart().startsWith('{"level"') ? false : undefined),
  },
});
