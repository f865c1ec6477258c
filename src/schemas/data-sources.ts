import { z } from "zod";
import { DATA_SOURCE_TYPES, SSL_MODES } from "../db/schema";
import { paginationQuery } from "../lib/pagination";
import { NON_EMPTY_PATCH, displayName, nonEmptyPatch, searchQuery, sortParam } from "./common";

// A host name or an IP literal (IPv6 with or without brackets): no scheme, path, user info or spaces.
const HOST = /^(\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f.]*:[0-9A-Fa-f:.]+|[A-Za-z0-9_][A-Za-z0-9_-]*(\.[A-Za-z0-9_][A-Za-z0-9_-]*)*\.?)$/;

const host = z.string().trim().min(1).max(253).regex(HOST, { message: "Must be a host name or an IP address" });
const port = z.number().int().min(1).max(65535);
const connectionText = z.string().trim().min(1).max(255);
// Not trimmed: leading or trailing spaces may be part of a real password. `null` means none.
const password = z.string().min(1).max(1024).nullable();

export const DEFAULT_SSL_MODE = "prefer" satisfies (typeof SSL_MODES)[number];

export const createDataSourceBody = z.strictObject({
  name: displayName,
  type: z.enum(DATA_SOURCE_TYPES),
  connection: z.strictObject({
    host,
    port,
    database: connectionText,
    username: connectionText,
    password: password.optional().default(null),
    ssl: z.enum(SSL_MODES).optional().default(DEFAULT_SSL_MODE),
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
        database: connectionText.optional(),
        username: connectionText.optional(),
        password: password.optional(),
        ssl: z.enum(SSL_MODES).optional(),
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
