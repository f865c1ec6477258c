// PostgreSQL through postgres.js. The connector opens the TCP socket and negotiates SSL itself
// (SSLRequest, then an in-place TLS upgrade), then hands the ready stream to postgres.js with
// its `socket` option: the driver never dials, so the host guard, the deadline and the SSL
// decision stay here, and a refusal of SSL is answered precisely instead of as a broken
// handshake.
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import postgres from "postgres";
import { classifyNetworkError, dial, errorCode, sslUnsupportedFailure, unknownFailure, upgradeToTls, withDeadline, type DeadlineScope } from "./net";
import { runConnectionTest } from "./run-test";
import { ConnectionFailure, type Connector, type ConnectionSettings, type QueryResult, type Session } from "./types";

// Int32 length 8, then the SSLRequest code 80877103.
const SSL_REQUEST = new Uint8Array([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

/** Sends SSLRequest and reads the one-byte answer ('S' or 'N'). */
function askForSsl(socket: Socket): Promise<number> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      socket.off("data", onData);
      socket.off("error", onError);
      socket.off("close", onClose);
    };
    const onData = (chunk: Uint8Array) => {
      cleanup();
      // Anything after the answer byte was sent before encryption: refuse it (CVE-2021-23222).
      if (chunk.length !== 1) reject(new Error("Unexpected data after the SSLRequest answer"));
      else resolve(chunk[0]!);
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onClose = () => {
      cleanup();
      reject(new Error("Connection closed during SSL negotiation"));
    };
    socket.on("data", onData);
    socket.once("error", onError);
    socket.once("close", onClose);
    socket.write(SSL_REQUEST);
  });
}

async function negotiateSsl(socket: Socket, connection: ConnectionSettings, scope: DeadlineScope): Promise<Duplex> {
  if (connection.ssl === "disable") return socket;
  const answer = await askForSsl(socket);
  if (answer === 0x4e /* N */) {
    if (connection.ssl === "require") throw sslUnsupportedFailure();
    return socket; // prefer: carry on unencrypted, as libpq does
  }
  if (answer !== 0x53 /* S */) throw new Error(`Unexpected answer to SSLRequest: ${answer}`);
  return upgradeToTls(socket, scope);
}

const detail = (field: string, message: string) => [{ field, message }];

/** Maps postgres.js / server errors (SQLSTATE codes) to failures a person can act on. */
export function classifyPostgresError(err: unknown, host?: string): ConnectionFailure {
  if (err instanceof ConnectionFailure) return err;
  const code = errorCode(err);
  const message = err instanceof Error ? err.message : "";
  switch (code) {
    case "28P01": // invalid_password
      return new ConnectionFailure("auth_failed", "The server rejected the username or password", detail("password", "Password authentication failed for this user"), { cause: err });
    case "28000": // invalid_authorization_specification: pg_hba.conf refused, or no such role
      if (/no encryption/i.test(message)) {
        return new ConnectionFailure("ssl_required", "The server refuses unencrypted connections for this user and database", detail("ssl", "Set ssl to require"), { cause: err });
      }
      if (/role .* does not exist/i.test(message)) {
        return new ConnectionFailure("auth_failed", "The server rejected the username or password", detail("username", "No such user on this server"), { cause: err });
      }
      return new ConnectionFailure("auth_failed", "The server does not accept this user from Edgeboard's address", detail("username", "The server's access rules (pg_hba.conf) refuse this user, database and address"), { cause: err });
    case "42501": // insufficient_privilege, e.g. no CONNECT on the database
      return new ConnectionFailure("auth_failed", "This user may not connect to this database", detail("username", "The user lacks the CONNECT privilege on the database"), { cause: err });
    case "3D000": // invalid_catalog_name
      return new ConnectionFailure("database_not_found", "The database does not exist on this server", detail("database", "No database with this name"), { cause: err });
    case "AUTH_TYPE_NOT_IMPLEMENTED":
      return new ConnectionFailure("auth_failed", "The server asks for an authentication method Edgeboard does not support", detail("username", "Use password (scram-sha-256 or md5) authentication for this user"), { cause: err });
    case "CONNECT_TIMEOUT":
      return new ConnectionFailure("timeout", "The server did not answer in time", detail("host", "Check the host, port and firewall"), { cause: err });
  }
  return classifyNetworkError(err, host) ?? unknownFailure(err, "PostgreSQL");
}

class PostgresSession implements Session {
  private closed = false;

  constructor(
    private readonly sql: postgres.Sql,
    private readonly stream: Duplex,
  ) {}

  async serverVersion(): Promise<string> {
    // Reported by the server at startup (ParameterStatus): no round trip needed.
    const version = this.sql.parameters.server_version ?? (await this.sql.unsafe("show server_version"))[0]?.server_version;
    return `PostgreSQL ${version ?? "(unknown version)"}`;
  }

  async query(text: string, params: readonly unknown[] = []): Promise<QueryResult> {
    try {
      const result = await this.sql.unsafe(text, params as postgres.ParameterOrJSON<never>[]);
      return { columns: result.columns.map((c) => c.name), rows: [...result] as Record<string, unknown>[] };
    } catch (err) {
      throw classifyPostgresError(err);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      // Terminate politely, but give the server at most a second.
      await this.sql.end({ timeout: 1 });
    } catch {
      // closing anyway
    } finally {
      this.stream.destroy();
    }
  }
}

export const postgresqlConnector: Connector = {
  type: "postgresql",

  async connect(connection, options) {
    try {
      return await withDeadline(
        options,
        async (scope) => {
          const tcp = await dial(connection.host, connection.port, options, scope);
          const stream = scope.track(await negotiateSsl(tcp, connection, scope));
          let handedOut = false;
          const sql = postgres({
            host: connection.host,
            port: connection.port,
            database: connection.database,
            username: connection.username,
            password: connection.password ?? "",
            // SSL was settled above; postgres.js must not try again on this stream.
            ssl: false,
            max: 1,
            prepare: false,
            fetch_types: false,
            idle_timeout: 0,
            max_lifetime: null,
            // Our deadline is the bound; the driver's own timer is only a backstop.
            connect_timeout: Math.ceil(options.timeoutMs / 1000) + 1,
            connection: { application_name: "edgeboard" },
            onnotice: () => {},
            // One connection per session: a reconnect must not reuse the stream.
            socket: () => {
              if (handedOut) throw new Error("The session's connection is closed");
              handedOut = true;
              return stream;
            },
          } as postgres.Options<{}>);
          scope.track({ destroy: () => void sql.end({ timeout: 0 }).catch(() => {}) });
          // Startup + authentication happen with the first statement.
          await sql.unsafe("select 1");
          return new PostgresSession(sql, stream);
        },
        (late) => void late.close(),
      );
    } catch (err) {
      throw classifyPostgresError(err, connection.host);
    }
  },

  test(connection, options) {
    return runConnectionTest(postgresqlConnector, connection, options);
  },
};
