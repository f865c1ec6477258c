// The real database servers the widget-data tests query, and a writable admin connection to
// each for setting up (and checking) probe tables. Only 127.0.0.1.
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

export const PG: DbTarget = { type: "postgresql", host: "127.0.0.1", port: 5432, database: "postgres", username: "postgres", password: "postgres" };
export const MY: DbTarget = { type: "mysql", host: "127.0.0.1", port: 3306, database: "edgeboard_widget_test", username: "root", password: null };

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
  });
}

export async function mysqlAdmin(target: DbTarget = MY) {
  const bootstrap = await mysql.createConnection({
    host: target.host,
    port: target.port,
    user: target.username,
    password: target.password ?? undefined,
    disableEval: true,
  } as mysql.ConnectionOptions);
  await bootstrap.query(`CREATE DATABASE IF NOT EXISTS \`${target.database}\``);
  await bootstrap.end();
  return mysql.createConnection({
    host: target.host,
    port: target.port,
    user: target.username,
    password: target.password ?? undefined,
    database: target.database,
    disableEval: true,
  } as mysql.ConnectionOptions);
}
