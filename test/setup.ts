import { applyD1Migrations, env } from "cloudflare:test";
import { afterEach } from "vitest";
import { captureConsole, scanStoredSecrets } from "./secret-scan";

// Every test file gets isolated storage; give it the real schema from drizzle/.
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);

// The sample data source's database: schema, then the deterministic demo rows in one batch.
await applyD1Migrations(env.SAMPLE_DB, env.SAMPLE_MIGRATIONS);
await env.SAMPLE_DB.batch(env.SAMPLE_SEED.map((statement) => env.SAMPLE_DB.prepare(statement)));

// The secret scan (test/secret-scan.ts) also reads what the Worker logs, and after each test
// looks for every stored hash and ciphertext in that test's responses and log lines.
captureConsole();
afterEach(scanStoredSecrets);
