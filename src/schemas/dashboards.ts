import { z } from "zod";
import { pageSchema, paginationQuery } from "../lib/pagination";
import {
  NON_EMPTY_PATCH,
  booleanQuery,
  clientObject,
  displayName,
  jsonObject,
  nonEmptyPatch,
  searchQuery,
  sortParam,
  timestamp,
  uuid,
} from "./common";
import { publicWidgetResponse, widgetResponse } from "./widgets";

export const LAYOUT_MAX_BYTES = 64 * 1024;

const description = z.string().max(2000, { message: "Must be at most 2000 characters" }).nullable();
const layout = jsonObject(LAYOUT_MAX_BYTES).describe("The client's layout object, stored as given (at most 64 KiB of JSON)");

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

// ---- Responses

export const dashboardResponse = z.object({
  id: uuid,
  name: z.string(),
  description: z.string().nullable(),
  isPublic: z.boolean().describe("Readable without a token at GET /api/public/dashboards/{id}"),
  layout: clientObject.describe("The client's layout object, as stored"),
  version: z.number().int().min(1).describe("1 when created, +1 on every change; the ETag names it"),
  createdAt: timestamp,
  updatedAt: timestamp,
});

/** List items: the dashboard without its layout. */
export const dashboardListItem = dashboardResponse.omit({ layout: true });
export const dashboardPage = pageSchema(dashboardListItem);

/** GET /api/dashboards/{id}: with its widgets in grid order, each with its data. */
export const dashboardDetail = dashboardResponse.extend({ widgets: z.array(widgetResponse) });

/** The tokenless view of a public dashboard. */
export const publicDashboardResponse = dashboardResponse.extend({ widgets: z.array(publicWidgetResponse) });

export type DashboardResponse = z.output<typeof dashboardResponse>;
export type DashboardListItem = z.output<typeof dashboardListItem>;
export type DashboardDetail = z.output<typeof dashboardDetail>;
export type PublicDashboardResponse = z.output<typeof publicDashboardResponse>;
