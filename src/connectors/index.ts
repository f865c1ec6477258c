import type { DataSourceType } from "../db/schema";
import { mysqlConnector } from "./mysql";
import { postgresqlConnector } from "./postgresql";
import type { Connector } from "./types";

/** One connector per data-source type: a new database type is one new file plus a line here. */
export const connectors: Record<DataSourceType, Connector> = {
  postgresql: postgresqlConnector,
  mysql: mysqlConnector,
};

export function connectorFor(type: DataSourceType): Connector {
  return connectors[type];
}

export * from "./types";
