import type { D1Migration } from "cloudflare:test";

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: D1Migration[];
      SAMPLE_MIGRATIONS: D1Migration[];
      /** scripts/sample-seed.mjs statements, generated in Node by vitest.config.ts. */
      SAMPLE_SEED: string[];
      /** Fuzz replay knobs (vitest.config.ts reads them from process.env; "" when unset). */
      FUZZ_SEED: string;
      FUZZ_RUNS: string;
      FUZZ_ROUTE: string;
      FUZZ_PATH: string;
    }
  }
}
