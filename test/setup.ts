import { applyD1Migrations, env } from "cloudflare:test";

// Every test file gets isolated storage; give it the real schema from drizzle/.
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
