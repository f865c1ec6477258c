import type { D1Migration } from "cloudflare:test";

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: D1Migration[];
      SAMPLE_MIGRATIONS: D1Migration[];
      /** scripts/sample-seed.mjs statements, generated in Node by vitest.config.ts. */
      SAMPLE_SEED: string[];
    }
  }
}
