import { applyD1Migrations, env } from "cloudflare:test";

// Every test file gets isolated storage; give it the real schema from drizzle/.
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);

// The sample data source's database: schema, then the deterministic demo rows in one batch.
await applyD1Migrations(env.SAMPLE_DB, env.SAMPLE_MIGRATIONS);
await env.SAMPLE_DB.batch(env.SAMPLE_SEED.map((statement) => env.SAMPLE_DB.prepare(statement)));
