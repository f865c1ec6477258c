import { z } from "zod";
import { WIDGET_TYPES } from "../db/schema";
import { pageSchema, paginationQuery } from "../lib/pagination";
import { COLUMN_TYPES, WIDGET_DATA_ERROR_CODES } from "../lib/query-result";
import { NON_EMPTY_PATCH, booleanQuery, clientObject, displayName, jsonObject, nonEmptyPatch, timestamp, uuid } from "./common";

/** The dashboard grid: 12 columns; rows grow downwards. */
export const GRID = {
  columns: 12,
  maxHeight: 48,
  // Not in the spec: a bound so a row index stays a small integer.
  maxY: 10_000,
} as const;

export const CONFIG_MAX_BYTES = 64 * 1024;

const x = z.number().int().min(0).max(GRID.columns - 1);
const y = z.number().int().min(0).max(GRID.maxY);
const width = z.number().int().min(1).max(GRID.columns);
const height = z.number().int().min(1).max(GRID.maxHeight);

export const gridOverflowMessage = `x + width must be at most ${GRID.columns}`;

type Payload = { value: unknown; issues: readonly { path?: PropertyKey[] }[] };
/** Run the x + width check only when both are present and individually valid. */
const bothValid = ({ value, issues }: Payload) => {
  // zod asks this even when the body is no object at all (`null`, an array): nothing to check then.
  if (typeof value !== "object" || value === null) return false;
  const v = value as { x?: unknown; width?: unknown };
  return (
    typeof v.x === "number" &&
    typeof v.width === "number" &&
    !issues.some((issue) => issue.path?.[0] === "x" || issue.path?.[0] === "width")
  );
};
const fitsGrid = (v: { x?: number; width?: number }) =>
  v.x === undefined || v.width === undefined || v.x + v.width <= GRID.columns;
const GRID_REFINEMENT = { path: ["width"], message: gridOverflowMessage, when: bothValid };

/** The longest cache TTL a widget may ask for (a week). */
export const MAX_CACHE_TTL_SECONDS = 7 * 86_400;

// The query part of a widget's config (docs/widget-data.md); every other key is the client's
// visualization options and passes untouched.
const queryConfig = z.object({
  query: z.string().trim().min(1, { message: "Must be a non-empty SQL statement" }).max(100_000).nullish(),
  params: z
    .record(
      z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: "Parameter names are letters, digits and _, as in :name" }),
      z.union([z.string(), z.number().finite(), z.boolean(), z.null()], { message: "Must be a string, a finite number, a boolean or null" }),
    )
    .optional(),
  cacheTtlSeconds: z.number().int().min(0).max(MAX_CACHE_TTL_SECONDS).optional(),
});

const widgetConfig = jsonObject(CONFIG_MAX_BYTES)
  .superRefine((value, ctx) => {
    const result = queryConfig.safeParse(value);
    if (!result.success) for (const issue of result.error.issues) ctx.addIssue({ code: "custom", message: issue.message, path: issue.path });
  })
  .describe(
    "The client's visualization options (passed through), plus `query` (one read-only SQL statement), " +
      "`params` (values for its :name placeholders) and `cacheTtlSeconds` (0–604800, default 300); at most 64 KiB of JSON. " +
      "See docs/widget-data.md.",
  );

export const widgetIdParams = z.object({ dashboardId: uuid, id: uuid });
export const dashboardIdParam = z.object({ dashboardId: uuid });

export const createWidgetBody = z
  .strictObject({
    type: z.enum(WIDGET_TYPES),
    title: displayName,
    config: widgetConfig.optional().default({}),
    dataSourceId: uuid.nullable().optional().default(null),
    x,
    y,
    width,
    height,
  })
  .refine(fitsGrid, GRID_REFINEMENT);

// A widget stays on its dashboard: `dashboardId` is not patchable (unknown field → 400).
export const updateWidgetBody = z
  .strictObject({
    type: z.enum(WIDGET_TYPES).optional(),
    title: displayName.optional(),
    config: widgetConfig.optional(),
    dataSourceId: uuid.nullable().optional(),
    x: x.optional(),
    y: y.optional(),
    width: width.optional(),
    height: height.optional(),
  })
  .refine(nonEmptyPatch, NON_EMPTY_PATCH)
  .refine(fitsGrid, GRID_REFINEMENT);

export const listWidgetsQuery = z.object({ ...paginationQuery });

/** GET .../widgets/:id/data: `refresh=true` runs the query now instead of answering from the cache. */
export const widgetDataQuery = z.object({ refresh: booleanQuery.optional().default(false) });

export type CreateWidgetInput = z.infer<typeof createWidgetBody>;
export type UpdateWidgetInput = z.infer<typeof updateWidgetBody>;
export type ListWidgetsQuery = z.infer<typeof listWidgetsQuery>;

// ---- Responses

/** One cell of a result row: bigint/decimal as strings, dates ISO, bytes base64, json any value. */
const cell = z.union([z.string(), z.number(), z.boolean(), z.null(), z.record(z.string(), z.unknown()), z.array(z.unknown())]);

export const widgetQueryResult = z
  .object({
    columns: z.array(z.object({ name: z.string(), type: z.enum(COLUMN_TYPES) })),
    rows: z.array(z.array(cell)).describe("One array per row, in `columns` order"),
    rowCount: z.number().int().min(0),
    truncated: z.boolean().describe("True when QUERY_MAX_ROWS or QUERY_MAX_BYTES cut the result"),
    durationMs: z.number().min(0),
    cachedAt: timestamp.nullable().describe("When the cached result was made; null for a fresh run"),
  })
  .describe("The widget's query result");

export const widgetDataError = z
  .object({
    error: z.object({ code: z.enum(WIDGET_DATA_ERROR_CODES), message: z.string() }),
  })
  .describe("The widget's query failed; the request itself succeeded");

/** `data`: a result, the widget's own error, or `{}` for a widget with nothing to run. */
export const widgetData = z
  .union([widgetQueryResult, widgetDataError, z.strictObject({}).describe("Nothing to run: a text widget, or no query yet")])
  .describe("The widget's data (docs/widget-data.md)");

export const widgetResponse = z.object({
  id: uuid,
  type: z.enum(WIDGET_TYPES),
  title: z.string(),
  config: clientObject.describe("Visualization options, plus `query`, `params` and `cacheTtlSeconds`"),
  data: widgetData,
  dashboardId: uuid,
  dataSourceId: uuid.nullable(),
  x: z.number().int(),
  y: z.number().int(),
  width: z.number().int(),
  height: z.number().int(),
  createdAt: timestamp,
  updatedAt: timestamp,
});

/** The tokenless view: no links to other resources, and the config without `query` and `params`. */
export const publicWidgetResponse = widgetResponse.pick({
  id: true,
  type: true,
  title: true,
  config: true,
  data: true,
  x: true,
  y: true,
  width: true,
  height: true,
});

export const widgetPage = pageSchema(widgetResponse);
export const widgetDataResponse = z.object({ id: uuid, data: widgetData });

export type WidgetResponse = z.output<typeof widgetResponse>;
export type PublicWidgetResponse = z.output<typeof publicWidgetResponse>;
export type WidgetDataResponse = z.output<typeof widgetDataResponse>;
