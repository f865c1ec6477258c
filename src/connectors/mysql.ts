// MySQL and MariaDB through mysql2. The connector dials (after the host guard) and gives the
// socket to mysql2 as its `stream`, so the deadline can destroy it at any point, also while
// mysql2 is still waiting for the server's greeting.
import type { Socket } from "node:net";
import mysql from "mysql2/promise";
import { classifyNetworkError, dial, errorCode, sslHandshakeFailure, sslUnsupportedFailure, unknownFailure, withDeadline, type DeadlineScope } from "./net";
import { runConnectionTest } from "./run-test";
import { ConnectionFailure, type ConnectOptions, type Connector, type ConnectionSettings, type QueryResult, type Session } from "./types";

const detail = (field: string, message: string) => [{ field, message }];

/** Maps mysql2 / server errors (MySQL and MariaDB error numbers) to actionable failures. */
export function classifyMysqlError(err: unknown, host?: string): ConnectionFailure {
  if (err instanceof ConnectionFailure) return err;
  const errno = (err as { errno?: unknown } | null)?.errno;
  switch (errno) {
    case 1045: // ER_ACCESS_DENIED_ERROR: MySQL does not say whether the user or the password was wrong
    case 1698: // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
      return new ConnectionFailure("auth_failed", "The server rejected the username or password", detail("password", "Access denied for this username and password"), { cause: err });
    case 1862: // ER_MUST_CHANGE_PASSWORD_LOGIN
      return new ConnectionFailure("auth_failed", "The user's password has expired", detail("password", "Change this user's password on the server"), { cause: err });
    case 3118: // ER_ACCOUNT_HAS_BEEN_LOCKED
      return new ConnectionFailure("auth_failed", "The user's account is locked", detail("username", "Unlock this account on the server"), { cause: err });
    case 1251: // ER_NOT_SUPPORTED_AUTH_MODE
      return new ConnectionFailure("auth_failed", "The server asks for an authentication method Edgeboard does not support", detail("username", "Use mysql_native_password or caching_sha2_password for this user"), { cause: err });
    case 1049: // ER_BAD_DB_ERROR
      return new ConnectionFailure("database_not_found", "The database does not exist on this server", detail("database", "No database with this name"), { cause: err });
    case 1044: // ER_DBACCESS_DENIED_ERROR: what a user without rights sees for a missing database too
      return new ConnectionFailure("database_not_found", "The database does not exist, or this user may not access it", detail("database", "Check the database name and this user's privileges on it"), { cause: err });
    case 1130: // ER_HOST_NOT_PRIVILEGED
    case 1129: // ER_HOST_IS_BLOCKED
      return new ConnectionFailure("connection_refused", "The server does not accept connections from Edgeboard's address", detail("host", "Allow connections from Edgeboard on the server"), { cause: err });
    case 3159: // ER_SECURE_TRANSPORT_REQUIRED (require_secure_transport=ON)
      return new ConnectionFailure("ssl_required", "The server refuses unencrypted connections", detail("ssl", "Set ssl to require"), { cause: err });
  }
  const code = errorCode(err);
  if (code === "HANDSHAKE_NO_SSL_SUPPORT") return sslUnsupportedFailure();
  if (code === "AUTH_SWITCH_PLUGIN_ERROR") {
    return new ConnectionFailure("auth_failed", "The server asks for an authentication method Edgeboard does not support", detail("username", "Use mysql_native_password or caching_sha2_password for this user"), { cause: err });
  }
  if (code === "HANDSHAKE_SSL_ERROR" || /tls|ssl|certificate/i.test(err instanceof Error ? err.message : "")) {
    return sslHandshakeFailure(err);
  }
  return classifyNetworkError(err, host) ?? unknownFailure(err, "MySQL");
}

type MysqlConnection = mysql.Connection;

class MysqlSession implements Session {
  private closed = false;

  constructor(
    private readonly conn: MysqlConnection,
    private readonly socket: Socket,
  ) {}

  async serverVersion(): Promise<string> {
    const { rows } = await this.query("select version() as version");
    const version = String(rows[0]?.version ?? "");
    // MariaDB names itself in its version string ("10.11.6-MariaDB-0+deb12u1").
    return /mariadb/i.test(version) ? version : `MySQL ${version}`;
  }

  async query(sql: string, params: readonly unknown[] = []): Promise<QueryResult> {
    try {
      const [rows, fields] = await this.conn.query({ sql, values: [...params] });
      const list = Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [];
      return { columns: (fields ?? []).map((f) => f.name), rows: list };
    } catch (err) {
      throw classifyMysqlError(err);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      // COM_QUIT, but never wait on the server for more than a second.
      await Promise.race([this.conn.end(), new Promise((resolve) => setTimeout(resolve, 1000))]);
    } catch {
      // closing anyway
    } finally {
      this.conn.destroy();
      this.socket.destroy();
    }
  }
}

async function open(connection: ConnectionSettings, options: ConnectOptions, scope: DeadlineScope, ssl: boolean): Promise<MysqlSession> {
  const socket = await dial(connection.host, connection.port, options, scope);
  try {
    const conn = await mysql.createConnection({
      stream: socket,
      host: connection.host,
      port: connection.port,
      user: connection.username,
      password: connection.password ?? "",
      database: connection.database,
      // Workers forbid code generation from strings; mysql2 then parses rows without eval.
      disableEval: true,
      // Our deadline is the bound; the driver's own timer is only a backstop.
      connectTimeout: options.timeoutMs + 1000,
      // Certificates are verified (Workers always verify them).
      ssl: ssl ? {} : undefined,
      // A server must not be able to ask for local files; one statement per query.
      flags: ["-LOCAL_FILES"],
      multipleStatements: false,
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
      timezone: "Z",
    });
    conn.on("error", () => {}); // fatal errors also fail the pending query
    return new MysqlSession(conn, socket);
  } catch (err) {
    socket.destroy();
    throw err;
  }
}

export const mysqlConnector: Connector = {
  type: "mysql",

  async connect(connection, options) {
    try {
      return await withDeadline(
        options,
        async (scope) => {
          const wantSsl = connection.ssl !== "disable";
          try {
            return await open(connection, options, scope, wantSsl);
          } catch (err) {
            // prefer: a server without SSL is fine, over a new connection without it.
            if (wantSsl && connection.ssl === "prefer" && errorCode(err) === "HANDSHAKE_NO_SSL_SUPPORT") {
              return await open(connection, options, scope, false);
            }
            throw err;
          }
        },
        (late) => void late.close(),
      );
    } catch (err) {
      throw classifyMysqlError(err, connection.host);
    }
  },

  test(connection, options) {
    return runConnectionTest(mysqlConnector, connection, options);
  },
};
