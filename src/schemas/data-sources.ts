import { z } from "zod";
import { DATA_SOURCE_TYPES } from "../db/schema";
import { pageSchema, paginationQuery } from "../lib/pagination";
import { connectionFields, dataSourceType, sslMode } from "./data-source-connection";
import { NON_EMPTY_PATCH, displayName, nonEmptyPatch, searchQuery, sortParam, timestamp, uuid } from "./common";

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
  // "sample": only the built-in sample source (it is not a type a source can be created with).
  type: z.enum([...DATA_SOURCE_TYPES, "sample"]).optional(),
  q: searchQuery,
});

export type CreateDataSourceInput = z.infer<typeof createDataSourceBody>;
export type UpdateDataSourceInput = z.infer<typeof updateDataSourceBody>;
export type ListDataSourcesQuery = z.infer<typeof listDataSourcesQuery>;

// ---- Responses

export const dataSourceResponse = z.object({
  id: uuid,
  name: z.string(),
  type: dataSourceType,
  connection: z
    .object({
      host: z.string(),
      port: z.number().int(),
      database: z.string(),
      username: z.string(),
      ssl: sslMode.describe("The mode a connection uses (the stored one, else the default for the host)"),
      hasPassword: z.boolean().describe("The password is write-only: only whether one is stored comes out"),
    })
    .describe("Where the source connects; never the password"),
  createdAt: timestamp,
  updatedAt: timestamp,
});

/** The built-in sample source as GET /api/data-sources/{id} shows it: read-only, nothing to connect to. */
export const sampleDataSourceDetail = z.object({
  id: uuid,
  name: z.string(),
  type: z.literal("sample"),
  connection: z.null(),
  createdAt: timestamp,
  updatedAt: timestamp,
});

export const dataSourceDetail = z.union([dataSourceResponse, sampleDataSourceDetail]);

/** List items (every member may list sources): no connection details. */
export const dataSourceListItem = z.object({
  id: uuid,
  name: z.string(),
  type: z.enum([...DATA_SOURCE_TYPES, "sample"]),
  createdAt: timestamp,
  updatedAt: timestamp,
});
export const dataSourcePage = pageSchema(dataSourceListItem);

export type DataSourceResponse = z.output<typeof dataSourceResponse>;
export type SampleDataSourceDetail = z.output<typeof sampleDataSourceDetail>;
export type DataSourceListItem = z.output<typeof dataSourceListItem>;
