import { env } from "cloudflare:test";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, it } from "vitest";
import * as schema from "../src/db/schema";
import { refreshTokens } from "../src/db/schema";
import { errorFields } from "../src/lib/log";

const db = drizzle(env.DB, { schema });

describe("errorFields", () => {
  it("keeps a failed query's bound values (hashes, ciphertexts) out of the log line", async () => {
    const tokenHash = "f".repeat(64);
    // No such user: D1 rejects the row on its foreign key, the way a concurrent delete would.
    const err = await db
      .insert(refreshTokens)
      .values({
        id: crypto.randomUUID(),
        userId: crypto.randomUUID(),
        familyId: crypto.randomUUID(),
        tokenHash,
        expiresAt: "2999-01-01T00:00:00.000Z",
        createdAt: "2024-01-01T00:00:00.000Z",
      })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(Error);
    const line = JSON.stringify(errorFields(err));
    expect(line).not.toContain(tokenHash);
    // Still useful: what failed, and why.
    expect(line).toContain("insert into");
    expect(line).toMatch(/FOREIGN KEY/i);
  });

  it("logs other errors as before", () => {
    const fields = errorFields(new TypeError("boom"));
    expect(fields).toMatchObject({ errorName: "TypeError", errorMessage: "boom" });
  });
});
