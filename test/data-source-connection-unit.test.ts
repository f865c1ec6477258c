// Pure parts of the data-source connection work: the schema helpers, the error classifiers
// (for server codes the real test servers cannot produce) and the deadline.
import { describe, expect, it } from "vitest";
import { classifyMysqlError } from "../src/connectors/mysql";
import { withDeadline } from "../src/connectors/net";
import { classifyPostgresError } from "../src/connectors/postgresql";
import { effectiveSslMode, isLoopbackHost, requiresPasswordResend, testConnectionBody } from "../src/schemas/data-source-connection";

const saved = { host: "db.example.com", port: 5432, database: "sales", username: "reporter" };

describe("requiresPasswordResend", () => {
  it.each([
    ["host", { host: "evil.example.net" }],
    ["port", { port: 6543 }],
    ["database", { database: "payroll" }],
    ["username", { username: "admin" }],
  ])("is true when %s changes without a password", (_field, patch) => {
    expect(requiresPasswordResend(saved, patch)).toBe(true);
  });

  it("is false when the password comes along", () => {
    expect(requiresPasswordResend(saved, { host: "evil.example.net", password: "typed-again" })).toBe(false);
    expect(requiresPasswordResend(saved, { username: "admin", password: "" })).toBe(false);
  });

  it("is false for changes that do not move the credentials", () => {
    expect(requiresPasswordResend(saved, {})).toBe(false);
    expect(requiresPasswordResend(saved, { ...saved })).toBe(false);
    expect(requiresPasswordResend(saved, { host: "DB.Example.com" })).toBe(false); // same host, other case
    expect(requiresPasswordResend({ ...saved, host: "127.0.0.1" }, { host: "127.0.0.1" })).toBe(false);
  });

  it("treats another spelling of a different address as a change", () => {
    expect(requiresPasswordResend({ ...saved, host: "8.8.8.8" }, { host: "2130706433" })).toBe(true);
  });
});

describe("ssl defaults", () => {
  it.each(["127.0.0.1", "127.1", "localhost", "db.localhost", "::1", "[::1]", "::ffff:127.0.0.1", "2130706433"])(
    "%s is loopback: ssl defaults to disable",
    (host) => {
      expect(isLoopbackHost(host)).toBe(true);
      expect(effectiveSslMode(host)).toBe("disable");
    },
  );

  it.each(["db.example.com", "8.8.8.8", "10.0.0.1", "2606:4700::1111"])("%s is remote: ssl defaults to prefer", (host) => {
    expect(isLoopbackHost(host)).toBe(false);
    expect(effectiveSslMode(host)).toBe("prefer");
  });

  it("keeps an explicit mode", () => {
    expect(effectiveSslMode("127.0.0.1", "require")).toBe("require");
    expect(effectiveSslMode("db.example.com", "disable")).toBe("disable");
    expect(effectiveSslMode("db.example.com", null)).toBe("prefer");
  });
});

describe("testConnectionBody", () => {
  const base = { type: "postgresql", connection: { host: "db.example.com", port: 5432, database: "d", username: "u" } };

  it("accepts the boundary ports, an empty or missing password and every ssl mode", () => {
    for (const port of [1, 65535]) expect(testConnectionBody.safeParse({ ...base, connection: { ...base.connection, port } }).success).toBe(true);
    expect(testConnectionBody.safeParse(base).success).toBe(true);
    expect(testConnectionBody.safeParse({ ...base, connection: { ...base.connection, password: "" } }).success).toBe(true);
    for (const ssl of ["disable", "prefer", "require"]) {
      expect(testConnectionBody.safeParse({ ...base, connection: { ...base.connection, ssl } }).success).toBe(true);
    }
  });

  it("trims the host", () => {
    const parsed = testConnectionBody.parse({ ...base, connection: { ...base.connection, host: "  db.example.com " } });
    expect(parsed.connection.host).toBe("db.example.com");
  });
});

const pgError = (code: string, message = "server text") => Object.assign(new Error(message), { code });

describe("classifyPostgresError", () => {
  it.each([
    [pgError("28P01"), "auth_failed", "password"],
    [pgError("28000", 'role "x" does not exist'), "auth_failed", "username"],
    [pgError("28000", 'no pg_hba.conf entry for host "10.1.1.1", user "x", database "y", SSL encryption'), "auth_failed", "username"],
    [pgError("28000", 'pg_hba.conf rejects connection for host "10.1.1.1", user "x", database "y", no encryption'), "ssl_required", "ssl"],
    [pgError("42501"), "auth_failed", "username"],
    [pgError("3D000"), "database_not_found", "database"],
    [pgError("AUTH_TYPE_NOT_IMPLEMENTED"), "auth_failed", "username"],
    [pgError("CONNECT_TIMEOUT"), "timeout", "host"],
    [pgError("ECONNREFUSED"), "connection_refused", "port"],
    [pgError("ENOTFOUND"), "host_not_found", "host"],
    [pgError("EAI_AGAIN"), "host_not_found", "host"],
    [pgError("EHOSTUNREACH"), "connection_refused", "host"],
    [new Error("proxy request failed, cannot connect to the specified address"), "connection_refused", "port"],
  ])("%s → %s on %s", (err, code, field) => {
    const failure = classifyPostgresError(err);
    expect(failure.code).toBe(code);
    expect(failure.details.map((d) => d.field)).toEqual([field]);
    expect(JSON.stringify(failure.toResult())).not.toMatch(/server text|10\.1\.1\.1|pg_hba\.conf (entry|rejects)/);
    expect(failure.cause).toBe(err);
  });

  it("names the host too when a runtime only says it cannot connect to a host name", () => {
    const generic = new Error("proxy request failed, cannot connect to the specified address");
    expect(classifyPostgresError(generic, "db.example.com").details.map((d) => d.field)).toEqual(["host", "port"]);
    expect(classifyMysqlError(generic, "203.0.113.7").details.map((d) => d.field)).toEqual(["port"]);
  });

  it("answers unknown with no details for anything else", () => {
    expect(classifyPostgresError(pgError("53300", "sorry, too many clients already")).toResult()).toEqual({
      success: false,
      code: "unknown",
      message: expect.not.stringContaining("clients"),
      details: [],
    });
  });
});

const myError = (errno: number | undefined, code: string) => Object.assign(new Error("server text"), { errno, code });

describe("classifyMysqlError", () => {
  it.each([
    [myError(1045, "ER_ACCESS_DENIED_ERROR"), "auth_failed", "password"],
    [myError(1698, "ER_ACCESS_DENIED_NO_PASSWORD_ERROR"), "auth_failed", "password"],
    [myError(1862, "ER_MUST_CHANGE_PASSWORD_LOGIN"), "auth_failed", "password"],
    [myError(3118, "ER_ACCOUNT_HAS_BEEN_LOCKED"), "auth_failed", "username"],
    [myError(1251, "ER_NOT_SUPPORTED_AUTH_MODE"), "auth_failed", "username"],
    [myError(1049, "ER_BAD_DB_ERROR"), "database_not_found", "database"],
    [myError(1044, "ER_DBACCESS_DENIED_ERROR"), "database_not_found", "database"],
    [myError(1130, "ER_HOST_NOT_PRIVILEGED"), "connection_refused", "host"],
    [myError(3159, "ER_SECURE_TRANSPORT_REQUIRED"), "ssl_required", "ssl"],
    [myError(undefined, "HANDSHAKE_NO_SSL_SUPPORT"), "ssl_failed", "ssl"],
    [myError(-111, "ECONNREFUSED"), "connection_refused", "port"],
    [myError(-3008, "ENOTFOUND"), "host_not_found", "host"],
    [myError(undefined, "ETIMEDOUT"), "timeout", "host"],
  ])("%s → %s on %s", (err, code, field) => {
    const failure = classifyMysqlError(err);
    expect(failure.code).toBe(code);
    expect(failure.details.map((d) => d.field)).toEqual([field]);
    expect(JSON.stringify(failure.toResult())).not.toContain("server text");
  });

  it("answers unknown for anything else", () => {
    expect(classifyMysqlError(myError(1040, "ER_CON_COUNT_ERROR")).code).toBe("unknown");
    expect(classifyMysqlError("a string").code).toBe("unknown");
  });
});

describe("withDeadline", () => {
  it("answers timeout, destroys what was tracked and disposes a late result", async () => {
    const destroyed: string[] = [];
    const late: string[] = [];
    let finish!: (value: string) => void;
    const attempt = withDeadline(
      { timeoutMs: 20 },
      (scope) => {
        scope.track({ destroy: () => destroyed.push("socket") });
        return new Promise<string>((resolve) => (finish = resolve));
      },
      (value) => late.push(value),
    );
    await expect(attempt).rejects.toMatchObject({ code: "timeout" });
    expect(destroyed).toEqual(["socket"]);
    finish("session");
    await Promise.resolve();
    await Promise.resolve();
    expect(late).toEqual(["session"]);
  });

  it("follows the caller's signal", async () => {
    const controller = new AbortController();
    const attempt = withDeadline({ timeoutMs: 60_000, signal: controller.signal }, () => new Promise(() => {}), () => {});
    controller.abort();
    await expect(attempt).rejects.toMatchObject({ code: "timeout" });
  });

  it("hands tracked resources to the caller on success and destroys them on failure", async () => {
    const destroyed: string[] = [];
    await expect(withDeadline({ timeoutMs: 1000 }, async (scope) => (scope.track({ destroy: () => destroyed.push("kept") }), "ok"), () => {})).resolves.toBe("ok");
    await expect(
      withDeadline(
        { timeoutMs: 1000 },
        async (scope) => {
          scope.track({ destroy: () => destroyed.push("failed") });
          throw new Error("boom");
        },
        () => {},
      ),
    ).rejects.toThrow("boom");
    expect(destroyed).toEqual(["failed"]);
  });
});
