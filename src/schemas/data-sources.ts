import { z } from "zod";
import { DATA_SOURCE_TYPES } from "../db/schema";
import { paginationQuery } from "../lib/pagination";
import { connectionFields, sslMode } from "./data-source-connection";
import { NON_EMPTY_PATCH, displayName, nonEmptyPatch, searchQuery, sortParam } from "./common";

const { host, port, database, username } = connectionFields;
// `null` removes a stored password; otherwise the connection schema's rules (no control characters).
const password = connectionFields.password.unwrap().min(1).nullable();

export const createDataSourceBody = z.strictObject({
  name: displayName,
  type: z.enum(DATA_SOURCE_TYPES),
  connection: z.strictObject({
    host,
    port,
    database,
    username,
    password: password.optional().default(null),
    // Omitted: decided per host at connect time (`disable` for loopback, else `prefer`).
    ssl: sslMode.optional(),
  }),
});

// Every connection field is optional: an omitted `password` keeps the stored one, `null` removes it.
export const updateDataSourceBody = z
  .strictObject({
    name: displayName.optional(),
    type: z.enum(DATA_SOURCE_TYPES).optional(),
    connection: z
      .strictObject({
        host: host.optional(),
        port: port.optional(),
        database: database.optional(),
        username: username.optional(),
        password: password.optional(),
        ssl: sslMode.optional(),
      })
      .optional(),
  })
  .refine(nonEmptyPatch, NON_EMPTY_PATCH);

export const listDataSourcesQuery = z.object({
  ...paginationQuery,
  sort: sortParam(["name", "createdAt", "updatedAt"], "-createdAt"),
  type: z.enum(DATA_SOURCE_TYPES).optional(),
  q: searchQuery,
});

export type CreateDataSourceInput = z.infer<typeof createDataSourceBody>;
export type UpdateDataSourceInput = z.infer<typeof updateDataSourceBody>;
export type ListDataSourcesQuery = z.infer<typeof listDataSourcesQuery>;
