import { z } from "zod";
import { paginationQuery } from "../lib/pagination";
import { NON_EMPTY_PATCH, booleanQuery, displayName, jsonObject, nonEmptyPatch, searchQuery, sortParam } from "./common";

export const LAYOUT_MAX_BYTES = 64 * 1024;

const description = z.string().max(2000, { message: "Must be at most 2000 characters" }).nullable();
const layout = jsonObject(LAYOUT_MAX_BYTES);

export const createDashboardBody = z.strictObject({
  name: displayName,
  description: description.optional().default(null),
  isPublic: z.boolean().optional().default(false),
  layout: layout.optional().default({}),
});

export const updateDashboardBody = z
  .strictObject({
    name: displayName.optional(),
    description: description.optional(),
    isPublic: z.boolean().optional(),
    layout: layout.optional(),
  })
  .refine(nonEmptyPatch, NON_EMPTY_PATCH);

export const listDashboardsQuery = z.object({
  ...paginationQuery,
  sort: sortParam(["name", "createdAt", "updatedAt"], "-createdAt"),
  isPublic: booleanQuery.optional(),
  q: searchQuery,
});

export type CreateDashboardInput = z.infer<typeof createDashboardBody>;
export type UpdateDashboardInput = z.infer<typeof updateDashboardBody>;
export type ListDashboardsQuery = z.infer<typeof listDashboardsQuery>;
