// Connection tests against real servers on 127.0.0.1 (set up by scripts/test-databases.sh):
// PostgreSQL 5433 (scram-sha-256) and 5432 (the demo cluster, trust), MariaDB 3306; plus a hung
// listener and a closed port from test/global-setup.ts.
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, inject, it } from "vitest";
import { connectorFor } from "../src/connectors";
import * as schema from "../src/db/schema";
import { encryptSecret } from "../src/lib/crypto";
import { testConnection } from "../src/services/connection-tests";
import worker from "../src/index";
import { addMember, api, expectError, registerOrg, type TestUser } from "./helpers";

const PASSWORD = "edgeboard-test-pw";
const TYPES = ["postgresql", "mysql"] as const;
type Type = (typeof TYPES)[number];

const SERVERS: Record<Type, { host: string; port: number; database: string; username: string; password: string }> = {
  postgresql: { host: "127.0.0.1", port: 5433, database: "edgeboard_test", username: "edgeboard", password: PASSWORD },
  mysql: { host: "127.0.0.1", port: 3306, database: "edgeboard_test", username: "edgeboard", password: PASSWORD },
};
const VERSION: Record<Type, RegExp> = { postgresql: /^PostgreSQL \d+\.\d+/, mysql: /^\d+\.\d+\.\d+-MariaDB/ };

const hungPort = inject("hungPort");
const closedPort = inject("closedPort");
const db = drizzle(env.DB, { schema });

let admin: TestUser | undefined;
async function adminUser(): Promise<TestUser> {
  admin ??= await registerOrg();
  return admin;
}

/** Calls the Worker with some vars changed (a distinct env object gets its own config). */
async function fetchWithEnv(vars: Partial<Env>, path: string, token: string, body?: unknown) {
  const request = new Request(`http://edgeboard.test${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const ctx = createExecutionContext();
  const res = await worker.fetch(request, { ...env, ...vars }, ctx);
  await waitOnExecutionContext(ctx);
  return { status: res.status, body: (await res.json()) as any };
}

async function hungStatus(): Promise<{ open: number; accepted: number }> {
  return (await fetch(`http://127.0.0.1:${inject("hungStatusPort")}/`)).json();
}

/** Waits (bounded) until the hung listener has no open connection from us. */
async function expectHungConnectionsClosed() {
  for (let i = 0; i < 40 && (await hungStatus()).open > 0; i++) await new Promise((r) => setTimeout(r, 50));
  expect((await hungStatus()).open).toBe(0);
}

async function organizationOf(user: TestUser): Promise<string> {
  const row = await db.select({ org: schema.users.organizationId }).from(schema.users).where(eq(schema.users.id, user.id)).get();
  return row!.org;
}

async function saveSource(owner: TestUser, type: Type, connection: { host: string; port: number; database: string; username: string; password?: string; ssl?: schema.SslMode }) {
  const id = crypto.randomUUID();
  const now = new Date().toISOString();
  const sealed = connection.password === undefined ? undefined : await encryptSecret(connection.password, new Uint8Array(Buffer.from(env.ENCRYPTION_KEY, "base64")));
  await db.insert(schema.dataSources).values({
    id,
    organizationId: await organizationOf(owner),
    name: `${type} test source`,
    type,
    host: connection.host,
    port: connection.port,
    database: connection.database,
    username: connection.username,
    passwordEncrypted: sealed?.ciphertext ?? null,
    passwordKeyVersion: sealed?.keyVersion ?? null,
    ssl: connection.ssl ?? null,
    createdBy: owner.id,
    createdAt: now,
    updatedAt: now,
  });
  return id;
}

const test = async (type: Type, connection: Record<string, unknown>, token?: string) =>
  api("POST", "/api/data-sources/test-connection", { token: token ?? (await adminUser()).token, body: { type, connection } });

// What drivers and servers say, and what must never reach a response.
const RAW_DRIVER_TEXT = /28P01|3D000|28000|ER_[A-Z_]+|ECONNREFUSED|ENOTFOUND|getaddrinfo|Access denied for user|password authentication failed|database "|Unknown database '|pg_hba|127\.0\.0\.1|edgeboard_test|node_modules|\bat \w+ \(/;

function expectFailure(body: any, code: string, field: string) {
  expect(body).toEqual({ success: false, code, message: expect.any(String), details: [{ field, message: expect.any(String) }] });
  expect(JSON.stringify(body)).not.toMatch(RAW_DRIVER_TEXT);
}

describe.each(TYPES)("%s connection test", (type) => {
  const server = SERVERS[type];

  it("succeeds with the server's version", async () => {
    const res = await test(type, server);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true, message: "Connection successful", latencyMs: expect.any(Number), serverVersion: expect.stringMatching(VERSION[type]) });
    expect(res.body.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it("reports a wrong password as auth_failed on password", async () => {
    const res = await test(type, { ...server, password: "not-the-password" });
    expect(res.status).toBe(200);
    expectFailure(res.body, "auth_failed", "password");
  });

  it("reports an unknown database as database_not_found", async () => {
    const res = await test(type, { ...server, database: "no_such_database" });
    expectFailure(res.body, "database_not_found", "database");
  });

  it("reports a port with nothing listening as connection_refused", async () => {
    const res = await test(type, { ...server, port: closedPort });
    expectFailure(res.body, "connection_refused", "port");
  });

  it("answers timeout within the bound for a server that never answers, and closes the socket", async () => {
    const before = await hungStatus();
    const res = await fetchWithEnv({ TEST_CONNECTION_TIMEOUT_MS: "1500" }, "/api/data-sources/test-connection", (await adminUser()).token, {
      type,
      connection: { ...server, port: hungPort },
    });
    expect(res.status).toBe(200);
    expectFailure(res.body, "timeout", "host");
    expect(res.body.message).toContain("1.5 s");
    expect((await hungStatus()).accepted).toBeGreaterThan(before.accepted); // it really connected
    await expectHungConnectionsClosed();
  });

  it("reports an unresolvable host name as host_not_found", async () => {
    const res = await test(type, { ...server, host: "no-such-host.invalid" });
    expectFailure(res.body, "host_not_found", "host");
  });

  it("refuses private addresses without the development flag, before dialling", async () => {
    const token = (await adminUser()).token;
    const before = await hungStatus();
    for (const host of ["127.0.0.1", "2130706433", "localhost", "[::1]", "10.0.0.5", "169.254.169.254"]) {
      const res = await fetchWithEnv({ ALLOW_PRIVATE_NETWORK_TARGETS: "false" }, "/api/data-sources/test-connection", token, {
        type,
        connection: { ...server, host, port: hungPort },
      });
      expect(res.status, host).toBe(200);
      expect(res.body, host).toEqual({ success: false, code: "host_not_allowed", message: expect.any(String), details: [{ field: "host", message: expect.any(String) }] });
    }
    expect((await hungStatus()).accepted).toBe(before.accepted);
  });

  it("reports ssl require against a server without SSL as ssl_failed", async () => {
    const res = await test(type, { ...server, ssl: "require" });
    expectFailure(res.body, "ssl_failed", "ssl");
  });

  it("falls back to an unencrypted connection with ssl prefer", async () => {
    const res = await test(type, { ...server, ssl: "prefer" });
    expect(res.body).toMatchObject({ success: true, serverVersion: expect.stringMatching(VERSION[type]) });
  });

  it("is bounded at the service level too, with the guard decided by the caller", async () => {
    const settings = { ...server, ssl: "disable" as const };
    expect(await testConnection({ type, connection: { ...settings, port: hungPort } }, { allowPrivate: true, timeoutMs: 500 })).toMatchObject({ success: false, code: "timeout" });
    expect(await testConnection({ type, connection: settings }, { allowPrivate: false, timeoutMs: 5000 })).toMatchObject({ success: false, code: "host_not_allowed" });
    await expectHungConnectionsClosed();
  });

  it("opens sessions that run parameterized queries on the demo data", async () => {
    const session = await connectorFor(type).connect({ ...server, ssl: "disable" }, { allowPrivate: true, timeoutMs: 5000 });
    try {
      const sql = type === "postgresql" ? "select count(*)::int as n, sum(units)::int as units from sales where region = $1" : "select count(*) as n, cast(sum(units) as signed) as units from sales where region = ?";
      const result = await session.query(sql, ["north"]);
      expect(result.columns).toEqual(["n", "units"]);
      expect(Number(result.rows[0]!.n)).toBe(30);
      expect(Number(result.rows[0]!.units)).toBeGreaterThan(0);
    } finally {
      await session.close();
    }
  });

  it("tests a saved source with its stored credentials through /:id/test", async () => {
    const owner = await adminUser();
    const good = await saveSource(owner, type, server);
    const res = await api("POST", `/api/data-sources/${good}/test`, { token: owner.token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ success: true, message: "Connection successful", serverVersion: expect.stringMatching(VERSION[type]) });

    const stale = await saveSource(owner, type, { ...server, password: "an-old-password" });
    const failed = await api("POST", `/api/data-sources/${stale}/test`, { token: owner.token });
    expectFailure(failed.body, "auth_failed", "password");
  });
});

describe("postgresql specifics", () => {
  it("connects to the demo data source (127.0.0.1:5432, postgres/postgres)", async () => {
    const res = await test("postgresql", { host: "127.0.0.1", port: 5432, database: "postgres", username: "postgres", password: "postgres" });
    expect(res.body).toMatchObject({ success: true, serverVersion: expect.stringMatching(/^PostgreSQL /) });
  });

  it("reports a server that refuses unencrypted connections as ssl_required", async () => {
    const res = await test("postgresql", { ...SERVERS.postgresql, username: "edgeboard_tls_only" });
    expectFailure(res.body, "ssl_required", "ssl");
  });

  it("reports an unknown user as auth_failed", async () => {
    const res = await test("postgresql", { ...SERVERS.postgresql, username: "nobody_here" });
    expect(res.body).toMatchObject({ success: false, code: "auth_failed" });
  });

  it("reports a server that is not PostgreSQL as unknown, without driver text", async () => {
    const res = await test("postgresql", { ...SERVERS.mysql, ssl: "disable" });
    expect(res.body).toEqual({ success: false, code: "unknown", message: expect.any(String), details: [] });
    expect(JSON.stringify(res.body)).not.toMatch(RAW_DRIVER_TEXT);
  });
});

describe("mysql specifics", () => {
  it("reports an unknown database as database_not_found for a user who could see it (1049)", async () => {
    const res = await test("mysql", { host: "127.0.0.1", port: 3306, database: "no_such_database", username: "root", password: "" });
    expectFailure(res.body, "database_not_found", "database");
  });
});

describe("who may test, and what they may send", () => {
  const path = "/api/data-sources/test-connection";

  it("needs a token", async () => {
    expectError(await api("POST", path, { body: { type: "postgresql", connection: SERVERS.postgresql } }), 401, "unauthorized");
    expectError(await api("POST", `/api/data-sources/${crypto.randomUUID()}/test`), 401, "unauthorized");
  });

  it("lets editors test but not viewers", async () => {
    const owner = await adminUser();
    const editor = await addMember(owner, "editor");
    const viewer = await addMember(owner, "viewer");
    expect((await test("mysql", SERVERS.mysql, editor.token)).body).toMatchObject({ success: true });
    expectError(await test("mysql", SERVERS.mysql, viewer.token), 403, "forbidden");
    const saved = await saveSource(owner, "mysql", SERVERS.mysql);
    expect((await api("POST", `/api/data-sources/${saved}/test`, { token: editor.token })).body).toMatchObject({ success: true });
    expectError(await api("POST", `/api/data-sources/${saved}/test`, { token: viewer.token }), 403, "forbidden");
  });

  it("hides other organizations' sources and malformed ids as 404", async () => {
    const theirs = await saveSource(await registerOrg(), "postgresql", SERVERS.postgresql);
    const token = (await adminUser()).token;
    expectError(await api("POST", `/api/data-sources/${theirs}/test`, { token }), 404, "not_found");
    expectError(await api("POST", `/api/data-sources/${crypto.randomUUID()}/test`, { token }), 404, "not_found");
    expectError(await api("POST", "/api/data-sources/not-a-uuid/test", { token }), 404, "not_found");
  });

  it("stores nothing for an ad-hoc test", async () => {
    const owner = await registerOrg();
    await test("postgresql", SERVERS.postgresql, owner.token);
    const rows = await db.select().from(schema.dataSources).where(eq(schema.dataSources.organizationId, await organizationOf(owner)));
    expect(rows).toEqual([]);
  });

  it.each([
    ["missing host", { type: "postgresql", connection: { ...SERVERS.postgresql, host: undefined } }, ["connection.host"]],
    ["empty host", { type: "postgresql", connection: { ...SERVERS.postgresql, host: "  " } }, ["connection.host"]],
    ["host with a port", { type: "postgresql", connection: { ...SERVERS.postgresql, host: "db.example.com:5432" } }, ["connection.host"]],
    ["host as a URL", { type: "postgresql", connection: { ...SERVERS.postgresql, host: "postgres://db.example.com" } }, ["connection.host"]],
    ["port 0", { type: "postgresql", connection: { ...SERVERS.postgresql, port: 0 } }, ["connection.port"]],
    ["port 70000", { type: "mysql", connection: { ...SERVERS.mysql, port: 70000 } }, ["connection.port"]],
    ["port as a string", { type: "mysql", connection: { ...SERVERS.mysql, port: "3306" } }, ["connection.port"]],
    ["fractional port", { type: "mysql", connection: { ...SERVERS.mysql, port: 3306.5 } }, ["connection.port"]],
    ["unknown type", { type: "oracle", connection: SERVERS.postgresql }, ["type"]],
    ["unknown ssl mode", { type: "postgresql", connection: { ...SERVERS.postgresql, ssl: "verify-full" } }, ["connection.ssl"]],
    ["an extra top-level field", { type: "postgresql", connection: SERVERS.postgresql, name: "x" }, ["name"]],
    ["a raw driver option", { type: "postgresql", connection: { ...SERVERS.postgresql, options: "-c search_path=evil" } }, ["connection.options"]],
    ["a NUL in the username", { type: "postgresql", connection: { ...SERVERS.postgresql, username: "edgeboard\u0000options" } }, ["connection.username"]],
    ["no connection at all", { type: "postgresql" }, ["connection"]],
  ])("rejects %s with 400 on the field", async (_name, body, fields) => {
    const res = await api("POST", path, { token: (await adminUser()).token, body });
    const details = expectError(res, 400, "validation_error");
    expect(details.map((d) => d.field)).toEqual(fields);
  });
});

describe("cleanup", () => {
  it("leaves no connection open on either server", async () => {
    const probes: Record<Type, string> = {
      postgresql: "select count(*)::int as n from pg_stat_activity where usename = 'edgeboard' and application_name = 'edgeboard' and pid <> pg_backend_pid()",
      mysql: "select count(*) as n from information_schema.processlist where user = 'edgeboard' and id <> connection_id()",
    };
    for (const type of TYPES) {
      let open = -1;
      for (let i = 0; i < 40; i++) {
        const session = await connectorFor(type).connect({ ...SERVERS[type], ssl: "disable" }, { allowPrivate: true, timeoutMs: 5000 });
        try {
          open = Number((await session.query(probes[type])).rows[0]!.n);
        } finally {
          await session.close();
        }
        if (open === 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(open, type).toBe(0);
    }
    await expectHungConnectionsClosed();
  });
});
