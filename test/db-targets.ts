// The real database servers the widget-data tests query — the ones scripts/test-databases.sh
// provisions (.ci/run runs it): a PostgreSQL cluster on 5433 that checks passwords
// (scram-sha-256) and MariaDB, each with the `edgeboard` user owning `edgeboard_test` — and a
// writable connection as that same user for setting up (and checking) probe tables. Only
// 127.0.0.1. The user may write: the tests show that widget queries still cannot.
import net from "node:net";
import mysql from "mysql2/promise";
import postgres from "postgres";

export interface DbTarget {
  type: "postgresql" | "mysql";
  host: string;
  port: number;
  database: string;
  username: string;
  password: string | null;
}

const TEST_USER = { database: "edgeboard_test", username: "edgeboard", password: "edgeboard-test-pw" };
export const PG: DbTarget = { type: "postgresql", host: "127.0.0.1", port: 5433, ...TEST_USER };
export const MY: DbTarget = { type: "mysql", host: "127.0.0.1", port: 3306, ...TEST_USER };

/** A source body for POST /api/data-sources pointing at `target`. */
export const sourceBody = (target: DbTarget, name = `${target.type} test`) => ({
  name,
  type: target.type,
  connection: {
    host: target.host,
    port: target.port,
    database: target.database,
    username: target.username,
    password: target.password,
    ssl: "disable",
  },
});

/** A writable connection for test setup (never the code under test's connection). */
export function pgAdmin(target: DbTarget = PG) {
  return postgres({
    host: target.host,
    port: target.port,
    database: target.database,
    username: target.username,
    password: target.password ?? undefined,
    max: 1,
    fetch_types: false,
    onnotice: () => {},
    socket: () =>
      new Promise<net.Socket>((resolve, reject) => {
        const socket = net.connect(target.port, target.host);
        socket.once("connect", () => resolve(socket));
        socket.once("error", reject);
      }),
  } as postgres.Options<{}>);
}

export function mysqlAdmin(target: DbTarget = MY) {
  return mysql.createConnection({
    host: target.host,
    port: target.port,
    user: target.username,
    password: target.password ?? undefined,
    database: target.database,
    disableEval: true,
  } as mysql.ConnectionOptions);
}
