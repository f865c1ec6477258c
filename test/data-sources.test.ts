import { SELF, env } from "cloudflare:test";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, it } from "vitest";
import * as schema from "../src/db/schema";
import { loadConfig } from "../src/env";
import { getDataSourceWithSecret } from "../src/services/data-sources";
import { NIL_UUID, dataSourceBody, fieldsOf, newDashboard, newDataSource, newWidget } from "./crud-helpers";
import { ISO_MS, UUID, addMember, api, expectError, registerOrg, type TestUser } from "./helpers";

const PASSWORD = "s3cret-Pa55word";

/** The exact bytes a client receives, to prove a secret is not in them. */
async function rawText(method: string, path: string, token: string, body?: unknown): Promise<string> {
  const res = await SELF.fetch(`http://edgeboard.test${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return res.text();
}

async function actorOf(user: TestUser) {
  const row = await env.DB.prepare("SELECT organization_id AS org, role FROM users WHERE id = ?").bind(user.id).first<{ org: string; role: "admin" }>();
  return { userId: user.id, organizationId: row!.org, role: row!.role };
}

async function secretOf(user: TestUser, id: string) {
  const db = drizzle(env.DB, { schema });
  return getDataSourceWithSecret(db, await actorOf(user), id, loadConfig(env).encryptionKey);
}

describe("POST /api/data-sources", () => {
  it("creates a source (201) whose password is encrypted at rest and never shown", async () => {
    const admin = await registerOrg();
    const res = await api("POST", "/api/data-sources", { token: admin.token, body: dataSourceBody() });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(UUID),
      name: "PostgreSQL Production",
      type: "postgresql",
      // No ssl given: loopback hosts default to disable (remote ones to prefer).
      connection: { host: "127.0.0.1", port: 5432, database: "mydb", username: "user", ssl: "disable", hasPassword: true },
      createdAt: expect.stringMatching(ISO_MS),
      updatedAt: expect.stringMatching(ISO_MS),
    });
    expect(JSON.stringify(res.body)).not.toContain(PASSWORD);

    const row = await env.DB.prepare("SELECT * FROM data_sources WHERE id = ?").bind(res.body.id).first<Record<string, unknown>>();
    expect(row?.password_encrypted).toEqual(expect.any(String));
    expect(JSON.stringify(row)).not.toContain(PASSWORD);
    expect(row?.password_key_version).toBe(1);
    expect(row?.created_by).toBe(admin.id);

    const secret = await secretOf(admin, res.body.id);
    expect(secret).toEqual({
      id: res.body.id,
      organizationId: expect.stringMatching(UUID),
      name: "PostgreSQL Production",
      type: "postgresql",
      connection: { host: "127.0.0.1", port: 5432, database: "mydb", username: "user", password: PASSWORD, ssl: "disable" },
    });
  });

  it("encrypts the same password differently each time (random IV)", async () => {
    const admin = await registerOrg();
    const a = await newDataSource(admin);
    const b = await newDataSource(admin);
    const rows = await env.DB.prepare("SELECT password_encrypted AS c FROM data_sources WHERE id IN (?, ?)").bind(a.id, b.id).all<{ c: string }>();
    expect(rows.results).toHaveLength(2);
    expect(rows.results[0]!.c).not.toBe(rows.results[1]!.c);
  });

  it("accepts a MySQL source without a password and with an ssl mode", async () => {
    const admin = await registerOrg();
    const { password: _password, ...connection } = dataSourceBody().connection;
    const res = await api("POST", "/api/data-sources", {
      token: admin.token,
      body: { name: "MySQL", type: "mysql", connection: { ...connection, host: "db.example.com", port: 3306, ssl: "require" } },
    });
    expect(res.status).toBe(201);
    expect(res.body.connection).toEqual({ host: "db.example.com", port: 3306, database: "mydb", username: "user", ssl: "require", hasPassword: false });
    expect((await secretOf(admin, res.body.id)).connection.password).toBeNull();
  });

  it("lists every failing field with dotted paths", async () => {
    const admin = await registerOrg();
    const failing = async (body: unknown) =>
      fieldsOf(expectError(await api("POST", "/api/data-sources", { token: admin.token, body }), 400, "validation_error"));
    expect(await failing(dataSourceBody({}, { port: 0 }))).toEqual(["connection.port"]);
    expect(await failing(dataSourceBody({}, { port: 65536 }))).toEqual(["connection.port"]);
    expect(await failing(dataSourceBody({}, { port: "5432" }))).toEqual(["connection.port"]);
    expect(await failing(dataSourceBody({}, { port: 54.32 }))).toEqual(["connection.port"]);
    expect(await failing(dataSourceBody({}, { host: "http://evil/x" }))).toEqual(["connection.host"]);
    expect(await failing(dataSourceBody({}, { host: "a b" }))).toEqual(["connection.host"]);
    expect(await failing(dataSourceBody({}, { ssl: "verify-full" }))).toEqual(["connection.ssl"]);
    expect(await failing(dataSourceBody({}, { password: "" }))).toEqual(["connection.password"]);
    expect(await failing(dataSourceBody({}, { options: "-c x" }))).toEqual(["connection.options"]);
    expect(await failing(dataSourceBody({ type: "oracle", name: " " }, { port: -1, database: "", username: undefined }))).toEqual([
      "connection.database",
      "connection.port",
      "connection.username",
      "name",
      "type",
    ]);
    expect(await failing({ name: "x", type: "postgresql" })).toEqual(["connection"]);
    expect(await failing({ ...dataSourceBody(), owner: "me" })).toEqual(["owner"]);
    for (const host of ["localhost", "db-1.internal.example.com", "::1", "[::1]", "10.0.0.5", "pg_primary"]) {
      const res = await api("POST", "/api/data-sources", { token: admin.token, body: dataSourceBody({}, { host }) });
      expect(res.status, host).toBe(201);
    }
  });

  it("is for admins only", async () => {
    const admin = await registerOrg();
    const editor = await addMember(admin, "editor");
    const viewer = await addMember(admin, "viewer");
    expectError(await api("POST", "/api/data-sources", { token: editor.token, body: dataSourceBody() }), 403, "forbidden");
    expectError(await api("POST", "/api/data-sources", { token: viewer.token, body: dataSourceBody() }), 403, "forbidden");
    expectError(await api("POST", "/api/data-sources", { body: dataSourceBody() }), 401, "unauthorized");
    const list = await api("GET", "/api/data-sources", { token: admin.token });
    expect(list.body.meta.total).toBe(0);
  });

  it("answers 413, malformed JSON and wrong content type", async () => {
    const admin = await registerOrg();
    const json = { "content-type": "application/json" };
    const huge = JSON.stringify(dataSourceBody({ name: "x".repeat(1_100_000) }));
    expectError(await api("POST", "/api/data-sources", { token: admin.token, rawBody: huge, headers: json }), 413, "payload_too_large");
    expectError(await api("POST", "/api/data-sources", { token: admin.token, rawBody: "{,}", headers: json }), 400, "validation_error");
    expectError(
      await api("POST", "/api/data-sources", { token: admin.token, rawBody: JSON.stringify(dataSourceBody()), headers: { "content-type": "text/csv" } }),
      400,
      "validation_error",
    );
  });
});

describe("GET /api/data-sources", () => {
  it("lists the spec's shape for every member, paginated, without connection details", async () => {
    const admin = await registerOrg();
    const viewer = await addMember(admin, "viewer");
    const editor = await addMember(admin, "editor");
    const created = [];
    for (let i = 0; i < 3; i++) created.push(await newDataSource(admin, { name: `Source ${i}` }));

    for (const member of [viewer, editor, admin]) {
      const res = await api("GET", "/api/data-sources?limit=2", { token: member.token });
      expect(res.status).toBe(200);
      expect(res.body.meta).toEqual({ total: 3, page: 1, limit: 2, pages: 2 });
      expect(res.body.data).toHaveLength(2);
      for (const item of res.body.data) {
        expect(item).toEqual({
          id: expect.stringMatching(UUID),
          name: expect.stringMatching(/^Source \d$/),
          type: "postgresql",
          createdAt: expect.stringMatching(ISO_MS),
          updatedAt: expect.stringMatching(ISO_MS),
        });
      }
    }
    const raw = await rawText("GET", "/api/data-sources", viewer.token);
    expect(raw).not.toContain(PASSWORD);
    expect(raw).not.toContain("127.0.0.1");
    expectError(await api("GET", "/api/data-sources"), 401, "unauthorized");
  });

  it("sorts, searches and filters by type, validating the query", async () => {
    const admin = await registerOrg();
    await newDataSource(admin, { name: "beta warehouse", type: "mysql" });
    await newDataSource(admin, { name: "Alpha_prod" });
    await newDataSource(admin, { name: "Gamma" });
    const names = async (query: string) =>
      (await api("GET", `/api/data-sources?${query}`, { token: admin.token })).body.data.map((d: { name: string }) => d.name);
    expect(await names("sort=name")).toEqual(["Alpha_prod", "beta warehouse", "Gamma"]);
    expect(await names("sort=-name")).toEqual(["Gamma", "beta warehouse", "Alpha_prod"]);
    expect(await names("")).toEqual(await names("sort=-createdAt"));
    expect(await names("type=mysql")).toEqual(["beta warehouse"]);
    expect(await names("q=ALPHA")).toEqual(["Alpha_prod"]);
    expect(await names("q=a_p")).toEqual(["Alpha_prod"]);
    expect(await names("q=e_w")).toEqual([]);
    const bad = await api("GET", "/api/data-sources?type=oracle&sort=host&limit=0", { token: admin.token });
    expect(fieldsOf(expectError(bad, 400, "validation_error"))).toEqual(["limit", "sort", "type"]);
  });
});

describe("GET, PATCH, DELETE /api/data-sources/:id", () => {
  it("reads one source (admins only) without the password", async () => {
    const admin = await registerOrg();
    const editor = await addMember(admin, "editor");
    const viewer = await addMember(admin, "viewer");
    const source = await newDataSource(admin);
    const res = await api("GET", `/api/data-sources/${source.id}`, { token: admin.token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(source);
    expect(await rawText("GET", `/api/data-sources/${source.id}`, admin.token)).not.toContain(PASSWORD);
    expectError(await api("GET", `/api/data-sources/${source.id}`, { token: editor.token }), 403, "forbidden");
    expectError(await api("GET", `/api/data-sources/${source.id}`, { token: viewer.token }), 403, "forbidden");
    expectError(await api("GET", `/api/data-sources/${NIL_UUID}`, { token: admin.token }), 404, "not_found");
    expectError(await api("GET", "/api/data-sources/123", { token: admin.token }), 404, "not_found");
  });

  it("patches partially; an omitted password is kept, a new one replaces it, null removes it", async () => {
    const admin = await registerOrg();
    const source = await newDataSource(admin);
    const url = `/api/data-sources/${source.id}`;
    const before = await env.DB.prepare("SELECT password_encrypted AS c FROM data_sources WHERE id = ?").bind(source.id).first<{ c: string }>();

    const port = await api("PATCH", url, { token: admin.token, body: { name: " Renamed ", connection: { ssl: "require" } } });
    expect(port.status).toBe(200);
    expect(port.body).toEqual({
      ...source,
      name: "Renamed",
      connection: { host: "127.0.0.1", port: 5432, database: "mydb", username: "user", ssl: "require", hasPassword: true },
      updatedAt: expect.stringMatching(ISO_MS),
    });
    const kept = await env.DB.prepare("SELECT password_encrypted AS c FROM data_sources WHERE id = ?").bind(source.id).first<{ c: string }>();
    expect(kept?.c).toBe(before?.c);
    expect((await secretOf(admin, source.id)).connection).toMatchObject({ ssl: "require", password: PASSWORD });

    const raw = await rawText("PATCH", url, admin.token, { connection: { password: "brand-new-pass" } });
    expect(raw).not.toContain("brand-new-pass");
    expect(JSON.parse(raw).connection.hasPassword).toBe(true);
    expect((await secretOf(admin, source.id)).connection.password).toBe("brand-new-pass");

    const cleared = await api("PATCH", url, { token: admin.token, body: { connection: { password: null }, type: "mysql" } });
    expect(cleared.status).toBe(200);
    expect(cleared.body).toMatchObject({ type: "mysql", connection: { hasPassword: false } });
    expect((await secretOf(admin, source.id)).connection.password).toBeNull();
    expect((await api("GET", url, { token: admin.token })).body).toEqual(cleared.body);
  });

  it("never replays a stored password to a new destination: host, port, database, username or type need it again", async () => {
    const admin = await registerOrg();
    const source = await newDataSource(admin);
    const url = `/api/data-sources/${source.id}`;
    for (const change of [
      { connection: { host: "db.example.com" } },
      { connection: { port: 6543 } },
      { connection: { database: "other" } },
      { connection: { username: "someone" } },
      { type: "mysql" },
    ]) {
      const res = await api("PATCH", url, { token: admin.token, body: change });
      expect(expectError(res, 400, "validation_error"), JSON.stringify(change)).toEqual([
        { field: "connection.password", message: expect.any(String) },
      ]);
    }
    // Same host in another spelling is not a move; with the password sent again, a move is fine.
    expect((await api("PATCH", url, { token: admin.token, body: { connection: { host: "127.0.0.1" } } })).status).toBe(200);
    const moved = await api("PATCH", url, { token: admin.token, body: { connection: { port: 6543, password: "again-pass" } } });
    expect(moved.status).toBe(200);
    expect((await secretOf(admin, source.id)).connection).toMatchObject({ port: 6543, password: "again-pass" });
  });

  it("validates patches with dotted paths and refuses non-admins", async () => {
    const admin = await registerOrg();
    const editor = await addMember(admin, "editor");
    const source = await newDataSource(admin);
    const url = `/api/data-sources/${source.id}`;
    expectError(await api("PATCH", url, { token: admin.token, body: {} }), 400, "validation_error");
    const res = await api("PATCH", url, { token: admin.token, body: { connection: { port: 70000, hostname: "x" }, type: "sqlite" } });
    expect(fieldsOf(expectError(res, 400, "validation_error"))).toEqual(["connection.hostname", "connection.port", "type"]);
    expectError(await api("PATCH", url, { token: editor.token, body: { name: "x" } }), 403, "forbidden");
    expectError(await api("PATCH", `/api/data-sources/${NIL_UUID}`, { token: admin.token, body: { name: "x" } }), 404, "not_found");
    expect((await api("GET", url, { token: admin.token })).body).toEqual(source);
  });

  it("deletes with 204, or 409 conflict while a widget uses the source", async () => {
    const admin = await registerOrg();
    const editor = await addMember(admin, "editor");
    const source = await newDataSource(admin);
    const unused = await newDataSource(admin, { name: "Unused" });
    const dashboard = await newDashboard(admin);
    const widget = await newWidget(admin, dashboard.id, { dataSourceId: source.id });

    expectError(await api("DELETE", `/api/data-sources/${unused.id}`, { token: editor.token }), 403, "forbidden");
    expect((await api("DELETE", `/api/data-sources/${unused.id}`, { token: admin.token })).status).toBe(204);
    expectError(await api("GET", `/api/data-sources/${unused.id}`, { token: admin.token }), 404, "not_found");
    expectError(await api("DELETE", `/api/data-sources/${unused.id}`, { token: admin.token }), 404, "not_found");

    expectError(await api("DELETE", `/api/data-sources/${source.id}`, { token: admin.token }), 409, "conflict");
    expect((await api("GET", `/api/data-sources/${source.id}`, { token: admin.token })).status).toBe(200);
    await api("PATCH", `/api/dashboards/${dashboard.id}/widgets/${widget.id}`, { token: admin.token, body: { dataSourceId: null } });
    const res = await api("DELETE", `/api/data-sources/${source.id}`, { token: admin.token });
    expect(res.status).toBe(204);
    expect(res.body).toBe("");
  });

  it("never puts the password in any response", async () => {
    const admin = await registerOrg();
    const texts: string[] = [];
    texts.push(await rawText("POST", "/api/data-sources", admin.token, dataSourceBody()));
    const id = JSON.parse(texts[0]!).id as string;
    texts.push(await rawText("GET", `/api/data-sources/${id}`, admin.token));
    texts.push(await rawText("GET", "/api/data-sources", admin.token));
    texts.push(await rawText("PATCH", `/api/data-sources/${id}`, admin.token, { name: "Again" }));
    texts.push(await rawText("PATCH", `/api/data-sources/${id}`, admin.token, { connection: { port: "bad", password: PASSWORD } }));
    texts.push(await rawText("POST", "/api/data-sources", admin.token, dataSourceBody({ type: "bad" })));
    const row = await env.DB.prepare("SELECT password_encrypted AS c FROM data_sources WHERE id = ?").bind(id).first<{ c: string }>();
    for (const text of texts) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(row!.c);
      expect(text).not.toMatch(/"password"/);
    }
  });
});
